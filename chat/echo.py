"""The answer on its way out: the model must not recite its system prompt.

The screen (chat/screening.py) reads the question on its way in; what slips past it is
met here, as the answer streams.
"""

import functools
import re
from collections import deque

from chat import prompts
from chat.screening import fold

# Not an input rule: the model began to recite its prompt (the family a refusal records).
PROMPT_ECHO = "prompt_echo"
ECHO_RUN = 8  # words in a row of the system prompt: a recital, not a coincidence
# What the prompt tells the model to say to customers is no leak when it says it.
SAYABLE = 'you can pass the question to a human agent (the customer can press "Escalate to human")'
WORD = re.compile(r"[a-z0-9]+")


def word_runs(text: str, *, run: int = ECHO_RUN) -> set[tuple[str, ...]]:
    words = WORD.findall(fold(text))
    return {tuple(words[i : i + run]) for i in range(len(words) - run + 1)}


@functools.cache
def _echo_runs(prompt: str) -> frozenset[tuple[str, ...]]:
    return frozenset(word_runs(prompt) - word_runs(SAYABLE))


class PromptEcho:
    """Hears a streamed answer recite ECHO_RUN words in a row of the system prompt.

    Fed each delta before it is sent, so at most ECHO_RUN - 1 words of a recital reach the
    customer. The prompt holds no secrets; this keeps it from being handed out anyway.
    It keeps only the last ECHO_RUN words, so a token costs the same at the end of a long
    answer as at its start."""

    def __init__(self, prompt: str | None = None):
        self.runs = _echo_runs(prompts.system_prompt() if prompt is None else prompt)
        self.words: deque[str] = deque(maxlen=ECHO_RUN)
        self.partial = ""  # a word the last delta may not have finished

    def heard(self, delta: str) -> bool:
        folded = self.partial + fold(delta)
        words = WORD.findall(folded)
        # The last word may go on in the next delta ("pass" + "word"): held back, but
        # checked as if it were whole, so a recital is caught on its eighth word.
        self.partial = words.pop() if words and WORD.match(folded[-1]) else ""
        for word in words:
            self.words.append(word)
            if len(self.words) == ECHO_RUN and tuple(self.words) in self.runs:
                return True
        if self.partial and len(self.words) >= ECHO_RUN - 1:
            return (*list(self.words)[1 - ECHO_RUN :], self.partial) in self.runs
        return False
