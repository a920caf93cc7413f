"""Reading Spanish replies: a lexicon that maps Spanish answer words to the reader's own.

The reader's clause logic (negation scope, whose condition it is, hedges, time
windows, dates, ages) is written once, over canonical words ("never", "i don't
have", "my mom", "3 weeks ago", "in august"). `gloss` rewrites a normalized
reply's Spanish function words, time expressions, numbers, relatives, hedges
and request verbs into those canonical words; everything else (condition and
medicine names, choices' synonyms) passes unchanged and is matched against the
criteria file's Spanish word lists, which go through the same `normalize`.

This is a fixed vocabulary, not a translation of the reply: a word it does not
list stays as typed, and a reply it cannot read is asked again. It runs on every
reply, so Spanglish ("si, tengo high blood pressure") and a Spanish word in an
English conversation are read too; English text has none of these words.
Accents are removed before (`normalize`), so "tomé" and "tome" are one word.
"""

from __future__ import annotations

import re

MONTHS = {"enero": "january", "febrero": "february", "marzo": "march", "abril": "april", "mayo": "may",
          "junio": "june", "julio": "july", "agosto": "august", "septiembre": "september", "setiembre": "september",
          "octubre": "october", "noviembre": "november", "diciembre": "december"}
UNITS = {"dia": "day", "dias": "days", "semana": "week", "semanas": "weeks", "mes": "month", "meses": "months",
         "ano": "year", "anos": "years"}
_ONES = {"cero": 0, "un": 1, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7,
         "ocho": 8, "nueve": 9, "diez": 10, "doce": 12, "trece": 13, "catorce": 14, "quince": 15,
         "dieciseis": 16, "diecisiete": 17, "dieciocho": 18, "diecinueve": 19, "veinte": 20, "veintiun": 21,
         "veintiuno": 21, "veintiuna": 21, "veintidos": 22, "veintitres": 23, "veinticuatro": 24, "veinticinco": 25,
         "veintiseis": 26, "veintisiete": 27, "veintiocho": 28, "veintinueve": 29}
_TENS = {"treinta": 30, "cuarenta": 40, "cincuenta": 50, "sesenta": 60, "setenta": 70, "ochenta": 80, "noventa": 90}

# Spanish phrase -> the reader's words. Longer phrases win over shorter ones inside them.
PHRASES: dict[str, str] = {
    # yes
    "si": "yes", "sip": "yep", "sii": "yes", "siii": "yes", "claro": "yes", "claro que si": "yes", "por supuesto": "yes",
    "aja": "yes", "simon": "yes", "afirmativo": "yes", "correcto": "correct", "asi es": "that's right",
    "eso es": "that's right", "exacto": "correct", "efectivamente": "yes", "cierto": "correct", "si senor": "yes",
    "si senora": "yes", "si senorita": "yes", "si doctor": "yes", "si claro": "yes", "pues si": "yes", "pos si": "yes",
        # no
    "nel": "nope", "nop": "nope", "nones": "nope", "para nada": "not at all", "pues no": "no", "pos no": "no",
    "claro que no": "no", "de ninguna manera": "no way", "tampoco": "no", "nel pastel": "nope", "ni modo": "no",
    "la verdad no": "no", "no gracias": "no thanks", "no senorita": "no", "no senor": "no", "no senora": "no",
    # not sure
    "no se": "i don't know", "nose": "i don't know", "no lo se": "i don't know", "no sabria decir": "i don't know",
    "no sabria": "i don't know", "no sabemos": "i don't know", "no sabe": "doesn't know", "ni idea": "no idea",
    "no tengo idea": "no idea", "no tengo ni idea": "no idea", "no estoy seguro": "not sure",
    "no estoy segura": "not sure", "no estoy muy seguro": "not sure", "no estoy muy segura": "not sure",
    "no recuerdo": "i don't remember", "no me acuerdo": "i don't remember", "no me recuerdo": "i don't remember",
    "no lo recuerdo": "i don't remember", "quien sabe": "who knows", "a lo mejor": "maybe", "tal vez": "maybe",
    "talvez": "maybe", "quizas": "maybe", "quiza": "maybe", "puede ser": "could be", "creo que si": "i think so",
    "creo que no": "i don't think so", "no creo": "i don't think so", "pienso que si": "i think so",
    "pienso que no": "i don't think so", "que yo sepa no": "not that i know of", "no que yo sepa": "not that i know of",
    "que yo sepa": "as far as i know", "probablemente": "probably", "probablemente no": "probably not",
    "supongo que si": "i think so", "supongo que no": "i don't think so", "supongo": "i guess", "creo": "i think",
    "creo que": "i think", "pienso que": "i think", "me parece que": "i think", "mas o menos": "sort of",
    "desconozco": "i don't know", "no estoy enterado": "not sure", "no estoy enterada": "not sure",
    "preguntele a mi doctor": "ask my doctor", "tendria que preguntar": "ask my doctor", "sospechan": "suspect",
    "no me han hecho la prueba": "never been tested", "nunca me han hecho la prueba": "never been tested",
    "no me han checado": "never been checked", "nunca me han checado": "never been checked",
    "no me han revisado": "never been checked", "nunca me hicieron la prueba": "never been tested",
    # negation and verbs
    "no tengo": "i don't have", "no tiene": "doesn't have", "no tenia": "didn't have", "no tuve": "i didn't have",
    "no he tenido": "i haven't had", "nunca he tenido": "i have never had", "nunca tuve": "i never had",
    "nunca he": "i have never", "no he": "i haven't", "no ha": "hasn't", "no han": "haven't", "no hemos": "we haven't",
    "no estoy": "i'm not", "no esta": "is not", "no estan": "are not", "no es": "is not", "no son": "are not",
    "no fue": "was not", "no era": "was not", "no tomo": "i don't take", "no uso": "i don't use",
    "no recibo": "i don't get", "no me ponen": "i don't get", "no he tomado": "i haven't taken",
    "no he recibido": "i haven't had", "no he usado": "i haven't used", "no lo he tomado": "i haven't taken it",
    "no la he tomado": "i haven't taken it", "nunca lo he tomado": "never taken it", "nunca la he tomado": "never taken it",
    "nunca lo tome": "never taken it", "nunca la tome": "never taken it", "nunca me lo han puesto": "never had it",
    "nunca me la han puesto": "never had it", "nunca me lo pusieron": "never had it", "nunca me la pusieron": "never had it",
    "nunca lo he recibido": "never had it", "nunca la he recibido": "never had it", "nunca lo he usado": "never used it",
    "nunca lo use": "never used it",
    "no me han dicho": "nobody has said", "nunca me han dicho": "nobody has ever said", "no me dijeron": "nobody said",
    "nadie me ha dicho": "nobody has said", "nadie me dijo": "nobody said", "nunca me dijeron": "nobody ever said",
    "no que me hayan dicho": "not that anyone told me", "no me ha dicho": "nobody has said",
    "no me diagnosticaron": "never diagnosed", "nunca me diagnosticaron": "never diagnosed",
    "tengo": "i have", "tiene": "has", "tenia": "had", "tuve": "i had", "tuvo": "had", "he tenido": "i have had",
    "ha tenido": "has had", "me dijeron": "they told me", "me dijo": "told me", "me ha dicho": "told me",
    "me diagnosticaron": "i was diagnosed with", "le diagnosticaron": "was diagnosed with",
    "diagnosticada": "diagnosed", "diagnosticado": "diagnosed", "diagnostico": "diagnosis",
    "estoy": "i am", "esta": "is", "estan": "are", "es": "is", "fue": "was", "soy": "i am",
    "tomo": "i take", "tome": "i took", "tomaba": "i used to take", "uso": "i use", "usaba": "i used",
    "recibo": "i get", "recibi": "i got", "recibia": "i used to get", "me ponen": "i get", "me la ponen": "i get it",
    "me lo ponen": "i get it", "me pusieron": "i got", "me la pusieron": "i got it", "me lo pusieron": "i got it",
    "me dieron": "i got", "me la dieron": "i got it", "me lo dieron": "i got it", "me las ponen": "i get them",
    "me los ponen": "i get them", "la tomo": "i take it", "lo tomo": "i take it", "la uso": "i use it",
    "lo uso": "i use it", "la recibo": "i get it", "lo recibo": "i get it", "la tome": "i took it", "lo tome": "i took it",
    "estoy tomando": "i'm taking", "estoy recibiendo": "i'm getting", "sigo tomando": "still taking",
    "sigo recibiendo": "still getting", "sigo con": "still on", "sigo": "still", "sigue": "still",
    "lo deje": "i stopped it", "la deje": "i stopped it", "deje de": "i stopped", "deje": "i stopped",
    "lo suspendieron": "stopped it", "la suspendieron": "stopped it", "me lo quitaron": "stopped it",
    "me la quitaron": "stopped it", "me lo suspendieron": "stopped it", "me la suspendieron": "stopped it",
    "lo pararon": "stopped it", "lo dejaron": "stopped it",
    "todavia": "still", "aun": "still", "ya no": "not anymore", "actualmente": "currently",
    "ahorita": "right now", "ahora": "now", "ahora mismo": "right now", "en este momento": "right now",
    "ultima dosis": "last dose", "la ultima vez": "last time", "ultima vez": "last time", "la ultima": "the last",
    "nunca": "never", "jamas": "never", "ninguno": "none", "ninguna": "none", "ningun": "none", "nada": "nothing",
    "nada de eso": "none of that", "ninguno de esos": "none of these", "ninguno de estos": "none of these",
    "ninguna de esas": "none of these", "ninguna de estas": "none of these", "ninguna de las dos": "neither",
    "ninguno de los dos": "neither", "ninguno de ellos": "none of them", "todos": "all", "todas": "all",
    "ambos": "both", "ambas": "both", "los dos": "both", "las dos": "both", "tambien": "also", "solo": "only",
    "solamente": "only", "nomas": "only", "unicamente": "only", "nadie": "nobody",
    # connectors
    "pero": "but", "aunque": "though", "porque": "because", "sin": "without", "para": "for",
    "con": "with", "o sea": "i mean", "osea": "i mean",
    # who (the reader looks for whose condition it is)
    "mi mama": "my mom", "mi mami": "my mom", "mi madre": "my mother", "mi papa": "my dad", "mi padre": "my father",
    "mi esposo": "my husband", "mi marido": "my husband", "mi esposa": "my wife", "mi senora": "my wife",
    "mi mujer": "my wife", "mi viejo": "my husband", "mi vieja": "my wife", "mi hijo": "my son", "mi hija": "my daughter",
    "mi hermano": "my brother", "mi hermana": "my sister", "mi abuela": "my grandmother", "mi abuelo": "my grandfather",
    "mi tia": "my aunt", "mi tio": "my uncle", "mi prima": "my cousin", "mi primo": "my cousin",
    "mi suegra": "my mother-in-law", "mi suegro": "my father-in-law", "mi pareja": "my partner", "mi novio": "my boyfriend",
    "mi novia": "my girlfriend", "mi amiga": "my friend", "mi amigo": "my friend", "mi vecina": "my neighbor",
    "ella": "she", "yo": "i", "a mi": "me", "yo no": "not me", "yo tampoco": "not me",
    "es el paciente": "is the patient", "es la paciente": "is the patient", "soy el paciente": "i am the patient",
    "soy la paciente": "i am the patient", "la paciente": "the patient", "el paciente": "the patient",
    "de mi familia": "in my family", "en mi familia": "in my family",
    # ages and time
    "anos": "years", "ano": "year", "edad": "age", "cumplo": "i turn", "voy a cumplir": "i will be", "cumpli": "i turned",
    "acabo de cumplir": "just turned", "naci en": "born in", "naci el": "born on", "naci": "born",
    "hace poco": "recently", "hace mucho": "a long time ago", "hace mucho tiempo": "a long time ago",
    "hace tiempo": "a while ago", "hace rato": "a while ago", "hace un tiempo": "a while ago", "hace anos": "years ago",
    "hace meses": "months ago", "hace semanas": "weeks ago", "hace dias": "days ago",
    "el mes pasado": "last month", "la semana pasada": "last week", "el ano pasado": "last year",
    "el mes antepasado": "2 months ago", "este ano": "this year", "este mes": "this month", "esta semana": "this week",
    "ayer": "yesterday", "hoy": "today", "antier": "2 days ago", "anteayer": "2 days ago",
    "el verano pasado": "last summer", "la primavera pasada": "last spring", "el invierno pasado": "last winter",
    "el otono pasado": "last fall", "en verano": "in the summer", "en el verano": "in the summer",
    "en primavera": "in the spring", "en invierno": "in the winter", "en otono": "in the fall", "navidad": "christmas",
    "a principios de": "early", "a inicios de": "early", "principios de": "early", "inicios de": "early",
    "a finales de": "late", "a fines de": "late", "finales de": "late", "fines de": "late",
    "a mediados de": "mid", "mediados de": "mid", "desde": "since", "hasta": "until", "cada": "every",
    "el proximo mes": "next month", "la proxima semana": "next week", "el mes que viene": "next month",
    "aproximadamente": "about", "alrededor de": "about", "como unos": "about", "como unas": "about", "unos": "about",
    "unas": "about", "como": "about", "un par de": "2", "mas de": "more than", "menos de": "less than",
    "dias": "days", "semanas": "weeks", "meses": "months", "dia": "day", "semana": "week", "mes": "month",
    # heart / blood pressure states
    "controlada": "controlled", "controlado": "controlled", "controladas": "controlled", "controlados": "controlled",
    "bajo control": "under control", "descontrolada": "uncontrolled", "descontrolado": "uncontrolled",
    "fuera de control": "out of control", "sin control": "uncontrolled", "no controlada": "not controlled",
    "no controlado": "not controlled", "estable": "stable", "bien": "fine", "normales": "normal",
    "salieron bien": "came back fine", "salieron normales": "came back normal", "todo normal": "all normal",
    "todo bien": "all fine", "todo salio bien": "came back fine",
    "me internaron": "i was hospitalized", "estuve internada": "i was hospitalized", "estuve internado": "i was hospitalized",
    "estuve en el hospital": "in the hospital", "hospitalizada": "hospitalized", "hospitalizado": "hospitalized",
    "antibioticos": "antibiotics", "un resfriado": "a cold", "una gripa": "a cold", "una gripe": "a cold",
    "un catarro": "a cold", "ya estoy bien": "better now", "ya me recupere": "recovered",
    # how medicine is given
    "en la vena": "into a vein", "por la vena": "into a vein", "por vena": "into a vein", "intravenosa": "intravenous",
    "intravenoso": "intravenous", "suero": "drip", "goteo": "drip", "infusion": "infusion", "infusiones": "infusions",
    "debajo de la piel": "under the skin", "bajo la piel": "under the skin", "inyeccion": "injection",
    "inyecciones": "injections", "piquete": "injection", "pastillas": "pills",
    # men and women (pregnancy)
    "soy hombre": "i'm a man", "soy varon": "i'm male", "soy masculino": "i'm male", "hombre": "man",
    "menopausia": "menopause", "ya no menstruo": "menopause", "no aplica": "does not apply",
    "no me aplica": "does not apply", "estoy operada": "sterilized", "me operaron para no tener hijos": "sterilized",
    "histerectomia": "hysterectomy", "me ligaron": "tubes tied", "ligadura": "tubes tied",
    "tratando de embarazarme": "trying to get pregnant", "buscando embarazo": "trying to get pregnant",
    # questions back
    "que es eso": "what is that", "que es": "what is", "que significa": "what does it mean", "por que": "why",
    "para que": "why", "eso cuenta": "does that count", "cuenta": "counts", "a que se refiere": "what do you mean",
    "que quiere decir": "what do you mean", "cual es": "which is", "como se": "how do i",
    # added from the tuning set (tests/corpus/answers_es.yaml)
    "dosis": "dose", "el es": "he is", "ella es": "she is", "negativo": "negative", "negativa": "negative",
    "positivo": "positive", "positiva": "positive", "no me ha servido": "it hasn't helped",
    "no ha servido": "it hasn't helped", "no me sirvio": "it didn't help", "no sirvio": "it didn't help",
    "no me ha ayudado": "it hasn't helped", "no ha ayudado": "it hasn't helped", "no me ayudo": "it didn't help",
    "ninguno me ha servido": "nothing has worked", "nada me ha servido": "nothing has worked",
    "nada ha funcionado": "nothing has worked", "nada me ha funcionado": "nothing has worked",
    "no funciona": "not working", "no ha funcionado": "hasn't worked", "sigue avanzando": "still getting worse",
    "sigue empeorando": "still getting worse", "empeorando": "getting worse", "no ha empeorado": "hasn't changed",
    "igual": "the same", "me ha ayudado": "it helped", "me ayuda": "it helps", "me esta ayudando": "it is helping",
    "lo demas no": "nothing else", "lo demás no": "nothing else", "nada mas": "nothing else", "todos menos": "all except",
    "todo menos": "all except", "menos": "except", "se me quito": "gone now", "ya se me quito": "gone now",
    "me cure": "cured", "me curaron": "cured", "curada": "cured", "curado": "cured", "vacuna": "vaccine",
    "vacunada": "vaccinated", "vacunado": "vaccinated", "las vacunas": "the shots", "no entiendo": "what do you mean",
    "viejita": "too old", "muy vieja": "too old", "ya estoy grande": "too old", "soy el esposo": "i'm the husband",
    "me toca": "i'm due", "me toca otra": "next dose is due", "me toca la proxima": "next dose is due",
    "me toca la siguiente": "next dose is due", "no me baja": "not coming down", "no baja": "not coming down",
    "no se le controla": "not controlled", "no se me controla": "not controlled", "no se controla": "not controlled",
    "ninguno controlado": "not controlled", "ninguna controlada": "not controlled", "se me normalizo": "under control",
    "se normalizo": "under control", "nada del corazon": "none of these", "nada de corazon": "none of these",
    "no me funcionan bien": "are not working", "no funcionan bien": "are not working",
    "no funciona bien": "is not working", "no me funciona bien": "is not working", "bombita": "pump", "bomba": "pump", "pa": "for", "casi": "almost", "medio": "half",
    # requests by meaning (bot/requests.py reads these canonical words)
    "quiero hablar con": "i want to talk to", "quisiera hablar con": "i would like to talk to",
    "puedo hablar con": "can i talk to", "hablar con": "talk to", "una persona": "a person", "alguien": "someone",
    "un humano": "a human", "una persona real": "a real person", "un doctor": "a doctor", "una enfermera": "a nurse",
    "quiero": "i want to", "quisiera": "i would like to", "puedo": "can i", "necesito": "i need to",
    "borra": "delete", "borre": "delete", "borrar": "delete", "elimina": "delete", "elimine": "delete",
    "eliminar": "delete", "mis datos": "my data", "mis respuestas": "my answers", "mi informacion": "my information",
    "empezar de nuevo": "start over", "empezar otra vez": "start over", "volver a empezar": "start over",
    "comenzar de nuevo": "start over", "desde el principio": "from the beginning", "reiniciar": "restart",
    "me equivoque": "i made a mistake", "me confundi": "i made a mistake", "quise decir": "i meant",
    "cambiar mi respuesta": "change my answer", "cambiar la respuesta": "change my answer", "regresar": "go back",
    "volver atras": "go back", "atras": "back", "la anterior": "the previous", "pregunta anterior": "previous question",
    "ayuda": "help", "parar": "stop", "basta": "stop", "ya no quiero seguir": "stop", "gracias": "thanks",
    "muchas gracias": "thanks", "emergencia": "emergency", "no puedo respirar": "i can't breathe",
    "dolor de pecho": "chest pain", "dolor en el pecho": "chest pain", "me duele el pecho": "chest pain",
    "me desmaye": "i fainted", "desmayo": "fainted", "sangrando mucho": "bleeding a lot", "infarto": "heart attack",
    "derrame cerebral": "stroke", "convulsion": "seizure", "sobredosis": "overdose", "quiero morir": "i want to die",
    "me quiero morir": "i want to die", "quitarme la vida": "kill myself", "suicidarme": "kill myself",
    "suicidio": "suicide", "hacerme dano": "hurt myself",
}


def _number(m: re.Match) -> str:
    tens, ones = m.group("tens"), m.group("ones")
    return str(_TENS.get(tens, 0) + (_ONES.get(ones, 0) if ones else 0))


_NUMBER_RE = re.compile(r"\b(?:(?P<tens>" + "|".join(_TENS) + r")(?: y (?P<ones>" + "|".join(
    k for k, v in _ONES.items() if 0 < v < 10) + r"))?)\b")
_SMALL_RE = re.compile(r"\b(" + "|".join(sorted((k for k in _ONES if k not in ("un", "una", "uno")), key=len,
                                                reverse=True)) + r")\b")
_HACE_RE = re.compile(r"\bhace (?:(como|unos|unas|mas de|menos de|mas o menos|aproximadamente) )?(\d+|un|una|unos|unas) ("
                      + "|".join(UNITS) + r")\b")
_DATE_RE = re.compile(r"\b(\d{1,2}) de (" + "|".join(MONTHS) + r")(?:,? (?:de |del )?(\d{4}))?\b")
_MONTH_YEAR_RE = re.compile(r"\b(" + "|".join(MONTHS) + r") (?:de |del )(\d{4})\b")
_YEAR_RE = re.compile(r"\b(?:en el|el|del) (\d{4})\b")
_SINCE_RE = re.compile(r"\bdesde (?:el |del |hace )?(?=\d|[a-z]+ \d)")
_AGE_RE = re.compile(r"\b(?:(tengo)|(tiene)) (\d{1,3})(?: anos| ano)?\b|\b(\d{1,3}) anos(?! ago)\b")
_ARTICLE_RE = re.compile(r"\b(?:el|la|los|las|del|al)\b ?")
_PHRASE_RE = re.compile(r"(?<![\w'])(" + "|".join(re.escape(p.strip()) for p in sorted(PHRASES, key=len, reverse=True))
                        + r")(?![\w'])")
_STRIPPED = {p.strip(): v.strip() for p, v in PHRASES.items()}
_MONTH_RE = re.compile(r"\b(" + "|".join(MONTHS) + r")\b")
# a quick test: only text with one of these words is glossed (English replies skip the work)
_SPANISH = re.compile(r"[^\x00-\x7f]|\b(?:" + "|".join(sorted({w for p in PHRASES for w in p.split()} | set(MONTHS) |
                                                             set(_TENS) | set(_ONES) | set(UNITS) | {"hace", "de"},
                                                             key=len, reverse=True)) + r")\b")


def _hace(m: re.Match) -> str:
    how, count = m.group(1), m.group(2)
    count = "1" if count in ("un", "una") else "a few" if count in ("unos", "unas") else count
    how = {"mas de": "more than ", "menos de": "less than "}.get(how or "", "about " if how else "")
    return f"{how}{count} {UNITS[m.group(3)]} ago"


def _age(m: re.Match) -> str:
    if m.group(4):
        return f"{m.group(4)} years old"
    return ("i am " if m.group(1) else "is ") + m.group(3)


def gloss(t: str) -> str:
    """A normalized reply with its Spanish words as the reader's words (see the module's docstring)."""
    if not _SPANISH.search(t):
        return t
    t = _NUMBER_RE.sub(_number, t)
    t = _SMALL_RE.sub(lambda m: str(_ONES[m.group(1)]), t)
    t = _HACE_RE.sub(_hace, t)
    t = _DATE_RE.sub(lambda m: f"{MONTHS[m.group(2)]} {m.group(1)}" + (f" {m.group(3)}" if m.group(3) else ""), t)
    t = _MONTH_YEAR_RE.sub(lambda m: f"{MONTHS[m.group(1)]} {m.group(2)}", t)
    t = _SINCE_RE.sub("since ", t)
    t = _YEAR_RE.sub(r"in \1", t)
    t = _AGE_RE.sub(_age, t)
    t = _MONTH_RE.sub(lambda m: MONTHS[m.group(1)], t)
    t = re.sub(r"(?<=\w) y (?=\w)", " and ", t)
    t = _PHRASE_RE.sub(lambda m: _STRIPPED[m.group(1)], t)
    t = _ARTICLE_RE.sub("", t)   # el, la, los, las: the reader's phrases have none (after the phrases above)
    t = re.sub(r"\ben (?=(?:january|february|march|april|may|june|july|august|september|october|november|december|"
               r"\d{4})\b)", "in ", t)
    return re.sub(r"\s+", " ", t).strip()
