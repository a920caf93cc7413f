"""The rasa-sdk actions of the prescreen: questions, answers, result, digressions.

They run unchanged in process (rasa-sdk's ActionExecutor) or on the stock
action server (`python -m rasa_sdk --actions actions`). Trial facts come from
the criteria file (`actions.loader.current_trial`); wording that is not a
trial fact comes from the domain's responses (dialogues/domain.yml), which
every action call carries.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Dict, List, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecuted, EventType, FollowupAction, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import form
from actions.contact_details import extract_contact
from actions.contracts import QuestionMetadata
from actions.evaluator import Outcome, Verdict, rules_out
from actions.loader import current_trial
from actions.language.yesno import read_yes_no
from actions.parsing import ACCEPTED, CONFIRM, Parsed, parse_answer
from actions.qtypes import QUESTION_TYPES
from actions.placeholders import fill_placeholders, localized
from actions.translations import LANGUAGE_SLOT
from actions.trial import Question, Trial, question_answer_ids

UNCLEAR_SLOT = "unclear_count"
PENDING_SLOT = "pending_answer"
CHANGING_SLOT = "changing_question"   # the question the patient chose to change on the review


def speaking(tracker: Tracker, domain: DomainDict) -> tuple[Trial, DomainDict]:
    """The trial and the domain's responses in the conversation's language (slot `language`; an
    unknown or unoffered one is English)."""
    trial = current_trial()
    language = tracker.get_slot(LANGUAGE_SLOT)
    language = language if language in trial.languages else "en"
    return trial.for_language(language), localized(domain, language)


def site_today(tracker: Tracker, trial: Trial) -> dt.date:
    """The conversation's date at the site (metadata `today` lets tests pin it)."""
    meta = (tracker.latest_message or {}).get("metadata") or {}
    try:
        return dt.date.fromisoformat(meta["today"])
    except (KeyError, TypeError, ValueError):
        return trial.today()


def response_text(domain: DomainDict, name: str, /, **values: Any) -> str:
    """The first variation of a domain response, with {placeholders} filled."""
    variations = (domain.get("responses") or {}).get(name) or [{}]
    return fill_placeholders(variations[0].get("text", ""), values)


def response_buttons(domain: DomainDict, name: str) -> List[Dict[str, Any]]:
    """The buttons of a domain response."""
    variations = (domain.get("responses") or {}).get(name) or [{}]
    return list(variations[0].get("buttons", []))


def contact_text(trial: Trial, domain: DomainDict) -> str:
    """The study contact as plain lines; unknown fields are left out."""
    c = trial.model.contact
    lines = [response_text(domain, "utter_contact_heading", study=trial.model.short_title)]
    lines += [x for x in (c.organisation, c.address) if x]
    for field, label in (("phone", "utter_label_phone"), ("email", "utter_label_email"), ("url", "utter_label_url")):
        value = getattr(c, field)
        if value:
            lines.append(response_text(domain, label, value=value))
    if trial.model.investigators:
        names = ", ".join(i.name for i in trial.model.investigators)
        lines.append(response_text(domain, "utter_label_investigators", value=names))
    lines.append(response_text(domain, "utter_label_trial_id", value=trial.id))
    if c.note:
        lines.append(c.note)
    return "\n".join(lines)


# the id a standard button sends, by its payload's intent ("Yes" /affirm -> "yes")
STANDARD_IDS = {"/affirm": "yes", "/deny": "no", "/inform": "unknown"}


def button_choices(question: Question, domain: DomainDict) -> List[tuple]:
    """A question's buttons as (id, title): the id is what the button sends, in every language."""
    def standard(response: str) -> List[tuple]:
        return [(STANDARD_IDS.get(b["payload"], b["payload"]), b["title"]) for b in response_buttons(domain, response)]
    return QUESTION_TYPES[question.type].buttons(question, standard)


def question_buttons(question: Question, domain: DomainDict) -> List[Dict[str, str]]:
    """The quick-reply buttons of a question; each payload carries the button's id."""
    return [{"title": title, "payload": "/inform" + _json({question.id: id_})}
            for id_, title in button_choices(question, domain)]


def tapped_title(question: Question, value: Any, domain: DomainDict) -> str | None:
    """The title (in the conversation's language) of the button whose id a payload sent, or None."""
    return next((title for id_, title in button_choices(question, domain) if id_ == value), None)


def _json(value: Any) -> str:
    import json
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class ActionSessionStart(Action):
    """Starts a conversation: names the study for the domain's responses."""

    def name(self) -> Text:
        return "action_session_start"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        trial = current_trial()
        return [SessionStarted(), *study_slots(trial), ActionExecuted("action_listen")]


def study_slots(trial: Trial) -> List[EventType]:
    """Slots the domain's responses use to name the study."""
    return [SlotSet("study_title", trial.model.title), SlotSet("study_short_title", trial.model.short_title),
            SlotSet("trial_id", trial.id)]


class ActionStatusNotice(Action):
    """Before the greeting's Start button: a study that is not recruiting says so first."""

    def name(self) -> Text:
        return "action_status_notice"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        trial, domain = speaking(tracker, domain)
        if trial.recruiting:
            return []
        dispatcher.utter_message(text=status_notice(trial, domain))
        return [SlotSet("status_told", True)]


class ActionStudyStatus(Action):
    """Says, before the first question, when the study is not recruiting (once per run, unless the
    greeting already said so)."""

    def name(self) -> Text:
        return "action_study_status"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        trial, domain = speaking(tracker, domain)
        events = [] if tracker.get_slot("study_title") else study_slots(trial)
        started = any(isinstance(tracker.slots.get(q.id), dict) for q in trial.questions)
        if not trial.recruiting and not started and not tracker.get_slot("status_told"):
            dispatcher.utter_message(text=status_notice(trial, domain))
        return events


def status_notice(trial: Trial, domain: DomainDict) -> str:
    """The not-recruiting notice, and that the patient can still go through the questions."""
    notice = trial.model.status_notice or response_text(domain, "utter_not_recruiting")
    return notice + " " + response_text(domain, "utter_continue_questions")


class ActionContinue(Action):
    """"Yes" / "continue" outside the questions: go on with them, or say what else we can do."""

    def name(self) -> Text:
        return "action_continue"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if tracker.get_slot("prescreen_result"):
            dispatcher.utter_message(response="utter_anything_else")
            return []
        return [FollowupAction("action_study_status"), FollowupAction("prescreen_form")]


class ValidatePrescreenForm(FormValidationAction):
    """Reads each answer of the prescreen form and decides the next question."""

    def name(self) -> Text:
        return "validate_prescreen_form"

    async def get_extraction_events(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> List[EventType]:
        """None: there are no `extract_<slot>` methods (every answer comes as the requested slot's
        words); rasa-sdk's default would look each required slot's method up on every call."""
        return []

    async def next_requested_slot(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> EventType:
        changing = tracker.get_slot(CHANGING_SLOT)
        if changing and not isinstance(tracker.get_slot(changing), dict):
            # asked again even when the other answers already rule the person out
            return SlotSet("requested_slot", changing)
        return SlotSet("requested_slot", form.next_question(current_trial(), tracker.slots))

    async def get_validation_events(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> List[EventType]:
        trial, domain = speaking(tracker, domain)
        events: List[EventType] = []
        for slot, value in tracker.slots_to_validate().items():
            question = trial.questions_by_id.get(slot)
            if question is None or value is None or isinstance(value, dict):
                continue
            picked = QUESTION_TYPES[question.type].from_payload(question, value)
            if picked is not None:   # several choices tapped together ("Done"): a complete answer
                validated = self.read_picked(trial, question, picked, value, dispatcher, tracker, domain)
            else:
                text = str(value)
                if isinstance(value, str) and str((tracker.latest_message or {}).get("text") or "").startswith("/"):
                    text = tapped_title(question, value, domain) or text   # a button's id: read as its title
                validated = self.read_answer(trial, question, text, dispatcher, tracker, domain)
            events += [SlotSet(k, v) for k, v in validated.items()]
        if events:   # a changed answer can make later questions no longer apply: their answers are dropped
            slots = {**tracker.slots, **{e["name"]: e["value"] for e in events if e.get("event") == "slot"}}
            events += [SlotSet(step.question.id, None) for step in form.walk(trial, slots)
                       if step.applies is False and step.answer is not None]
        return events

    def read_picked(self, trial: Trial, question: Question, picked: Parsed, value: Any, dispatcher: CollectingDispatcher,
                    tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """The slot values for choices tapped together; their titles stand for the patient's words."""
        if picked.status != ACCEPTED:
            dispatcher.utter_message(text=response_text(domain, "utter_stale_button"))
            return {question.id: None}
        titles = {o.answer: o.title for o in question.options}
        text = ", ".join(titles[a] for a in value) if value else (question.none.title if question.none else "")
        return self.accept(trial, question, _slot_value(picked, text), tracker)

    def read_answer(self, trial: Trial, question: Question, text: str, dispatcher: CollectingDispatcher,
                    tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """The slot values for one answer: accepted, checked back, re-asked, or recorded as unknown."""
        pending = tracker.get_slot(PENDING_SLOT)
        if isinstance(pending, dict) and pending.get("question") == question.id:
            verdict = read_yes_no(text)
            if verdict is True:
                return self.accept(trial, question, pending["parsed"], tracker)
            if verdict is False:
                dispatcher.utter_message(text=response_text(domain, "utter_confirm_rejected"))
                return {question.id: None, PENDING_SLOT: None, UNCLEAR_SLOT: None}
        tapped = str((tracker.latest_message or {}).get("text") or "").startswith("/")
        parsed = parse_answer(trial, question, text, site_today(tracker, trial), tapped=tapped)
        if parsed.status == ACCEPTED:
            return self.accept(trial, question, _slot_value(parsed, text), tracker)
        if parsed.status == CONFIRM:
            return {question.id: None, PENDING_SLOT: {"question": question.id, "parsed": _slot_value(parsed, text)}}
        if parsed.question_back:
            dispatcher.utter_message(text=response_text(domain, "utter_question_back", help=question.help))
            return {question.id: None, PENDING_SLOT: None}
        noted = self.note_others(trial, parsed, text, tracker)
        if noted:   # a reply about another question: kept for it, and this question asked again
            answers = {a: v for others in parsed.others.values() for a, v in others.items()}
            dispatcher.utter_message(text=response_text(domain, "utter_noted_other",
                                                        answer=describe_answers(trial, answers, parsed.estimate, domain)))
            return {**noted, question.id: None, PENDING_SLOT: None}
        tries = tracker.get_slot(UNCLEAR_SLOT) or 0
        if parsed.fallback is not None and tries:
            return self.accept(trial, question, {"answers": parsed.fallback, "text": text, "status": "accepted",
                                                 "estimate": True}, tracker)
        if not tries:
            name = "utter_closer_date" if parsed.fallback is not None else \
                "utter_unclear" if question_buttons(question, domain) else "utter_unclear_typed"
            dispatcher.utter_message(text=response_text(domain, name, help=question.help))
            return {question.id: None, UNCLEAR_SLOT: 1, PENDING_SLOT: None}
        dispatcher.utter_message(text=response_text(domain, "utter_unclear_moving_on"))
        unknown = {a: None for a in question_answer_ids(question)}
        return {question.id: {"answers": unknown, "text": text, "status": "unknown", "estimate": False},
                UNCLEAR_SLOT: None, PENDING_SLOT: None, CHANGING_SLOT: None}

    @staticmethod
    def note_others(trial: Trial, parsed: Parsed, text: str, tracker: Tracker) -> Dict[Text, Any]:
        """The slots of later questions this reply answered (not asked yet)."""
        return {other_id: {"answers": answers, "text": text, "status": "accepted", "estimate": parsed.estimate,
                           "given_with": tracker.get_slot("requested_slot")}
                for other_id, answers in parsed.others.items()
                if other_id in trial.questions_by_id and not isinstance(tracker.get_slot(other_id), dict)}

    @staticmethod
    def accept(trial: Trial, question: Question, value: Dict[str, Any], tracker: Tracker) -> Dict[Text, Any]:
        """Store an answer, and the answers it gave to later questions not asked yet."""
        slots: Dict[Text, Any] = {question.id: value, UNCLEAR_SLOT: None, PENDING_SLOT: None, CHANGING_SLOT: None}
        for other_id, answers in (value.pop("others", None) or {}).items():
            if other_id in trial.questions_by_id and not isinstance(tracker.get_slot(other_id), dict):
                slots[other_id] = {"answers": answers, "text": value["text"], "status": "accepted",
                                   "estimate": value.get("estimate", False), "given_with": question.id}
        return slots


def _slot_value(parsed: Parsed, text: str) -> Dict[str, Any]:
    return {"answers": parsed.answers, "text": text, "status": "unknown" if parsed.unknown else "accepted",
            "estimate": parsed.estimate, "others": parsed.others}


def describe_answers(trial: Trial, answers: Dict[str, Any], estimate: bool, domain: DomainDict) -> str:
    """Plain words for what we understood, e.g. "Last dose of rituximab: around 14 September 2026"."""
    parts = []
    for answer_id, value in answers.items():
        label = trial.answers[answer_id].label if answer_id in trial.answers else answer_id
        if isinstance(value, bool):
            words = response_text(domain, "utter_word_yes" if value else "utter_word_no")
        elif value is None:
            words = response_text(domain, "utter_word_unknown")
        elif value in ("never", "current", "not_recent"):
            words = response_text(domain, f"utter_word_{value}")
        elif isinstance(value, str) and len(value) == 10 and value[4] == "-":
            words = trial.long_date(value)
            if estimate:
                words = response_text(domain, "utter_word_around", date=words)
        else:
            words = str(value)
        parts.append(f"{label}: {words}")
    return "; ".join(parts)


class ActionAskQuestion(Action):
    """Asks the form's requested question with its buttons and progress."""

    def name(self) -> Text:
        return "action_ask_question"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        trial, domain = speaking(tracker, domain)
        question = trial.questions_by_id.get(tracker.get_slot("requested_slot") or "")
        if question is None:
            return []
        step, total = form.progress(trial, tracker.slots, question.id)
        text = response_text(domain, "utter_progress", step=step, total=total) + "\n" + question.text
        buttons = question_buttons(question, domain)
        pending = tracker.get_slot(PENDING_SLOT)
        custom: Dict[str, Any] = {}
        if isinstance(pending, dict) and pending.get("question") == question.id:
            custom["confirm"] = confirm_metadata(trial, pending["parsed"]["answers"])
            understood = pending["parsed"]
            text = response_text(domain, "utter_progress", step=step, total=total) + "\n" + response_text(
                domain, "utter_confirm_answer",
                answer=describe_answers(trial, understood["answers"], understood.get("estimate", False), domain))
            buttons = [{"title": b["title"], "payload": "/inform" + _json({question.id: STANDARD_IDS[b["payload"]]})}
                       for b in response_buttons(domain, "utter_buttons_confirm")]
        if step > 1:   # a wrong tap, or a change of mind, is one tap away
            buttons = buttons + response_buttons(domain, "utter_button_change_last_answer")
        metadata = QuestionMetadata(id=question.id, answer_ids=question_answer_ids(question), type=question.type,
                                    step=step, total=total)
        dispatcher.utter_message(text=text, buttons=buttons, json_message={"question": metadata, **custom})
        return []


def confirm_metadata(trial: Trial, answers: Dict[str, Any]) -> Dict[str, Any]:
    """`custom.confirm` of a check-back: one answer id and the value understood (the answer that
    would rule the patient out, if one would, else the first one given)."""
    answer_id = next((a for a, v in answers.items() if rules_out(trial, {a: v})),
                     next((a for a, v in answers.items() if v is not None), next(iter(answers), None)))
    return {"answer_id": answer_id, "value": answers.get(answer_id)}


class ActionPrescreenResult(Action):
    """Evaluates the answers and tells the patient the outcome, reasons and contact."""

    def name(self) -> Text:
        return "action_prescreen_result"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        trial, domain = speaking(tracker, domain)
        result = form.result_for(trial, tracker.slots, site_today(tracker, trial))
        reference = (tracker.latest_message or {}).get("metadata", {}).get("reference")
        if reference:   # the conversation's code (given by the bot), printed for staff to find it by
            result["reference"] = reference
        result["next_steps"] = next_steps(trial, result["outcome"], domain)
        result["language"] = trial.language
        if trial.language != "en":   # the patient's texts in their language; what staff check, in English
            result["to_check"] = form.result_for(trial.for_language("en"), tracker.slots,
                                                 site_today(tracker, trial))["to_check"]
        dispatcher.utter_message(text=result_text(result, trial, domain), json_message={"prescreen_result": result})
        dispatcher.utter_message(text=response_text(domain, "utter_wrong_tap"),
                                 buttons=response_buttons(domain, "utter_button_change_last_answer"))
        events: List[EventType] = [SlotSet("prescreen_result", result)]
        if trial.model.contact_opt_in and result["outcome"] != Outcome.NOT_ELIGIBLE and trial.recruiting:
            events.append(FollowupAction("contact_form"))
        return events


def result_text(result: Dict[str, Any], trial: Trial, domain: DomainDict) -> str:
    """The result in plain words: outcome, its main reasons (for "likely eligible" too: the
    inclusion criteria met, shortest first), what happens next, a word about medicines whenever a
    washout or a medicine still taken is among the reasons, the reference, contact, reminder."""
    outcome = Outcome(result["outcome"])
    parts = [response_text(domain, f"utter_outcome_{outcome.value}", study=trial.model.short_title,
                           eligible_from=trial.long_date(result["eligible_from"]) if result["eligible_from"] else "")]
    deciding = {Outcome.NOT_ELIGIBLE: (Verdict.FAIL,), Outcome.NEEDS_REVIEW: (Verdict.UNKNOWN, Verdict.WAIT),
                Outcome.ELIGIBLE_AFTER_WASHOUT: (Verdict.WAIT,), Outcome.LIKELY_ELIGIBLE: ()}[outcome]
    reasons = []
    for c in result["criteria"]:
        if c["verdict"] in deciding:
            line = c["reason"]
            if c["until"]:
                line += " " + response_text(domain, "utter_until", date=trial.long_date(c["until"]))
            reasons.append(line)
    if outcome == Outcome.LIKELY_ELIGIBLE:
        reasons = sorted((c["reason"] for c in result["criteria"] if c["kind"] == "inclusion"), key=len)
    if reasons:
        parts.append(response_text(domain, "utter_reasons_heading") + "\n" +
                     "\n".join("- " + r for r in dict.fromkeys(reasons)))
    parts.append(response_text(domain, "utter_next_steps_heading") + "\n" + result["next_steps"])
    washouts = {c.id for _, c in trial.criteria() if c.washout}
    if any(c["id"] in washouts and c["verdict"] != Verdict.PASS for c in result["criteria"]):
        parts.append(response_text(domain, "utter_medicine_safety"))
    if result["status_notice"]:
        parts.append(result["status_notice"])
    if result.get("reference"):
        parts.append(response_text(domain, "utter_reference", reference=result["reference"]))
    parts.append(contact_text(trial, domain))
    parts.append(response_text(domain, "utter_staff_decide"))
    return "\n\n".join(parts)


def next_steps(trial: Trial, outcome: str, domain: DomainDict) -> str:
    """What happens next for this outcome: the criteria file's words, else the dialogue's."""
    return trial.model.next_steps.get(outcome) or response_text(domain, f"utter_next_steps_{outcome}")


class ActionSwitchLanguage(Action):
    """A language button (or the widget's switch) sets the conversation's language and says so in
    it (`custom.language` tells the client); "español" typed offers the languages as buttons."""

    def name(self) -> Text:
        return "action_switch_language"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        trial = current_trial()
        entities = {e.get("entity"): e.get("value") for e in (tracker.latest_message or {}).get("entities") or []}
        language = entities.get(LANGUAGE_SLOT)
        if language not in trial.languages:
            _, domain = speaking(tracker, domain)
            offered = [b for b in response_buttons(domain, "utter_offer_language")
                       if any(f'"{code}"' in b["payload"] for code in trial.languages)]
            dispatcher.utter_message(text=response_text(domain, "utter_offer_language"), buttons=offered)
            return []
        domain = localized(domain, language)
        dispatcher.utter_message(text=response_text(domain, "utter_language_switched"),
                                 json_message={"language": language})
        return [SlotSet(LANGUAGE_SLOT, language)]


class ActionExplain(Action):
    """Answers "why do you ask?" with the current question's help text."""

    def name(self) -> Text:
        return "action_explain"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        trial, domain = speaking(tracker, domain)
        question = trial.questions_by_id.get(tracker.get_slot("requested_slot") or "")
        dispatcher.utter_message(text=question.help if question else response_text(domain, "utter_help"))
        return []


class ActionReviewAnswers(Action):
    """"Here is what you told me": every answer that counts, one numbered line per question, each
    with a button to change it, then "That's right, show my result". An answer that rules the
    patient out says so, so that they see which answer did it before the result."""

    def name(self) -> Text:
        return "action_review_answers"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        trial, domain = speaking(tracker, domain)
        lines, items, buttons = [], [], response_buttons(domain, "utter_review_buttons")
        for step in form.walk(trial, tracker.slots):
            if step.applies is not True or step.answer is None:
                continue
            given = step.answer
            answers = given.get("answers") or {}
            # a group's unanswered parts (the other options of one tap) are not shown as "not sure"
            shown = {a: v for a, v in answers.items() if v is not None} or answers
            text = describe_answers(trial, shown, bool(given.get("estimate")), domain)
            number = len(lines) + 1
            rules_out_alone = any(rules_out(trial, {a: v}) for a, v in answers.items())
            lines.append(f"{number}. {text}" + (" " + response_text(domain, "utter_review_rules_out")
                                                if rules_out_alone else ""))
            items += [{"answer_id": a, "value": v, "text": describe_answers(trial, {a: v}, bool(given.get("estimate")),
                                                                            domain)} for a, v in answers.items()]
            buttons.append({"title": response_text(domain, "utter_review_change_button", number=number),
                            "payload": "/change_answer" + _json({"question": step.question.id})})
        text = response_text(domain, "utter_review_heading") + "\n" + "\n".join(lines)
        dispatcher.utter_message(text=text, buttons=buttons, json_message={"review": {"answers": items}})
        return []


class ActionChangeAnswer(Action):
    """Clears one question's answer (from the review's "Change answer N"), so the form asks it again,
    and then the questions that now apply."""

    def name(self) -> Text:
        return "action_change_answer"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        trial, domain = speaking(tracker, domain)
        entities = {e.get("entity"): e.get("value") for e in (tracker.latest_message or {}).get("entities") or []}
        question_id = entities.get("question")
        if question_id not in trial.questions_by_id or not isinstance(tracker.get_slot(question_id), dict):
            dispatcher.utter_message(response="utter_stale_button")
            return []
        dispatcher.utter_message(text=response_text(domain, "utter_changing_answer"))
        return [SlotSet(question_id, None), SlotSet(UNCLEAR_SLOT, None), SlotSet(PENDING_SLOT, None),
                SlotSet(CHANGING_SLOT, question_id), SlotSet("prescreen_result", None)]


class ActionGoBack(Action):
    """Clears the answer to the question before the current one (in the form's order), so it is asked again."""

    def name(self) -> Text:
        return "action_go_back"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        trial, domain = speaking(tracker, domain)
        current = tracker.get_slot("requested_slot") if tracker.active_loop.get("name") == "prescreen_form" else None
        answered = []
        for step in form.walk(trial, tracker.slots):
            if step.question.id == current:
                break
            if step.applies is True and step.answer is not None:
                answered.append(step.question.id)
        if not answered:
            dispatcher.utter_message(text=response_text(domain, "utter_nothing_to_go_back_to"))
            return []
        dispatcher.utter_message(text=response_text(domain, "utter_going_back"))
        return [SlotSet(answered[-1], None), SlotSet(UNCLEAR_SLOT, None), SlotSet("prescreen_result", None)]


class ActionContactInfo(Action):
    """Gives the study's contact information."""

    def name(self) -> Text:
        return "action_contact_info"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        dispatcher.utter_message(text=contact_text(*speaking(tracker, domain)))
        return []


class ActionStudyInfo(Action):
    """Answers "what is this study?" with the trial's plain summary."""

    def name(self) -> Text:
        return "action_study_info"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        trial, domain = speaking(tracker, domain)
        text = f"{trial.model.title} ({trial.id})\n\n{trial.model.summary}"
        if trial.model.status_notice and not trial.recruiting:
            text += "\n\n" + trial.model.status_notice
        dispatcher.utter_message(text=text)
        return []


class ValidateContactForm(FormValidationAction):
    """The contact opt-in: consent, then a name and a phone number or e-mail."""

    def name(self) -> Text:
        return "validate_contact_form"

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        if tracker.get_slot("contact_consent") is False:
            return ["contact_consent"]
        return ["contact_consent", "contact_name", "contact_details"]

    async def next_requested_slot(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> EventType:
        required = await self.required_slots([], dispatcher, tracker, domain)
        return SlotSet("requested_slot", next((s for s in required if tracker.get_slot(s) is None), None))

    def validate_contact_consent(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: DomainDict) -> Dict[Text, Any]:
        domain = localized(domain, tracker.get_slot(LANGUAGE_SLOT))
        answer = value if isinstance(value, bool) else read_yes_no(str(value))
        if answer is True or answer is False:
            return {"contact_consent": answer}
        dispatcher.utter_message(text=response_text(domain, "utter_contact_consent_unclear"))
        return {"contact_consent": None}

    def validate_contact_name(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> Dict[Text, Any]:
        domain = localized(domain, tracker.get_slot(LANGUAGE_SLOT))
        name = re.sub(r"\s+", " ", str(value)).strip()
        if 1 < len(name) <= 100 and re.search(r"[^\W\d_]", name):
            return {"contact_name": name}
        dispatcher.utter_message(text=response_text(domain, "utter_contact_name_invalid"))
        return {"contact_name": None}

    def validate_contact_details(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: DomainDict) -> Dict[Text, Any]:
        """A phone number or e-mail address, also inside a sentence; the rest of the sentence
        ("best after 3pm") is kept as the patient's note for staff."""
        domain = localized(domain, tracker.get_slot(LANGUAGE_SLOT))
        details = extract_contact(str(value))
        if details:
            return {"contact_details": details.value, "contact_note": details.note or None}
        dispatcher.utter_message(text=response_text(domain, "utter_contact_details_invalid"))
        return {"contact_details": None}


class ActionContactDone(Action):
    """Confirms the contact opt-in (or that nothing was kept)."""

    def name(self) -> Text:
        return "action_contact_done"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        domain = localized(domain, tracker.get_slot(LANGUAGE_SLOT))
        if tracker.get_slot("contact_consent"):
            details = extract_contact(str(tracker.get_slot("contact_details") or ""))
            text = response_text(domain, "utter_contact_saved", name=tracker.get_slot("contact_name"),
                                 details=details.shown if details else tracker.get_slot("contact_details"))
            if tracker.get_slot("contact_note"):   # said back, so the patient sees what staff will read
                text += " " + response_text(domain, "utter_contact_note_saved", note=tracker.get_slot("contact_note"))
            dispatcher.utter_message(text=text)
            return [SlotSet("contact_requested", True)]
        dispatcher.utter_message(text=response_text(domain, "utter_contact_declined"))
        return [SlotSet("contact_requested", False)]
