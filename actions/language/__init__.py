"""Shared language helpers for reading patients' replies, whatever the question type.

- `words`: normalizing text, finding configured phrases, the common answer words (yes, no,
  "not sure", hedges);
- `context`: clause-by-clause context cues (negation, experiencer, proxy, vaccine, resolved,
  long ago), in the spirit of NegEx / ConText;
- `yesno`: a yes / no / don't-know reading of a reply, clause by clause, with each cue's scope;
- `numbers`: numbers written in words;
- `dates`: dates in the many ways people write them ("last spring", "3 weeks ago", "jan '25");
- `medicines`: the trial's medicine names, exact and misspelled.
"""
