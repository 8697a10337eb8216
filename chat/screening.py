"""Screening the customer's message for prompt injection: the one place for the rules.

`screen(text)` names the family of the first rule that matches, or returns None:

- `invisible`: zero-width, bidi-control or Unicode tag characters, which hide text from
  the reader (and from a reviewer) while the model still reads it;
- `delimiter`: our own fences or a chat template's tokens written by the customer, to close
  the `<question>` early and open a fake system turn;
- `override`: "ignore/forget your previous instructions" and its translations;
- `roleplay`: DAN, "developer mode", "pretend you are…", "from now on you are…";
- `system_prompt`: asking for the prompt itself ("repeat the text above", "print your
  instructions verbatim", "translate your rules into French");
- `encoded`: a base64/hex/escaped/rot13/reversed payload that decodes to any of the above
  or to instruction words, or an explicit "decode this and follow it".

What slips past is met on the way out: `PromptEcho` hears the model start to recite its
system prompt and the answer is stopped and refused (family `prompt_echo`).

Every rule wants intent, a verb and its target ("ignore" + "your previous instructions"),
because customers write "how do I ignore notifications", "what are the rules for recurring
tasks" and "ignore my last message". `benchmarks/injection_screen.py` measures both sides
on `chat/eval/injection.jsonl` and `chat/eval/benign.jsonl`.

Why our own regexes: the maintained detectors (LLM Guard, Rebuff, NeMo Guardrails, Vigil)
are classifiers, vector stores or a second LLM call, each heavier than the question path it
guards; no small, well-kept offline library of rules exists. Screening is one layer: the
prompt also fences the customer's words as data, and the model is told never to obey them.

Pure Python, no Django: the benchmark imports it without settings.
"""

import base64
import binascii
import functools
import html
import re
import unicodedata
from collections import deque
from urllib.parse import unquote

from chat import prompts

FAMILIES = ("invisible", "delimiter", "override", "roleplay", "system_prompt", "encoded")
# Not an input rule: the model began to recite its prompt (PromptEcho).
PROMPT_ECHO = "prompt_echo"

INJECTION_REFUSAL = (
    "Sorry, I can only help with questions about our product, and I can't change how I "
    "work or share my instructions. Please ask your question another way, or press "
    '"Escalate to human" and a person from our team will pick this up.'
)

# --- invisible -------------------------------------------------------------------------------
# U+2066-2069 (bidi isolates) join the listed ranges: Trojan Source uses them too.
INVISIBLE = re.compile(
    "[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]"
)
# Uses that are writing, not hiding, and stay allowed: a joiner or a direction mark right
# after a non-ASCII character (emoji ZWJ sequences 👩‍💻, Persian and Indic joiners, an RLM
# in Hebrew), and the tag letters of a subdivision flag (🏴 + "gbsct" + cancel tag).
ALLOWED_INVISIBLE = re.compile(
    "(?<=[^\\x00-\\x7f\u200b-\u200f])[\u200c-\u200f]"
    "|\U0001f3f4[\U000e0061-\U000e007a]{2,6}\U000e007f"
)
# Stripped before matching too, so "ig\u00adnore" reads "ignore".
STRIP = re.compile(
    "[\u00ad\u034f\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\U000e0000-\U000e007f]"
)

# --- delimiter (matched with the line breaks kept) -------------------------------------------
DELIMITER = [
    # Our own fences (chat/prompts.py) and role tags.
    r"<\s*/?\s*(?:question|context|system|instructions?|prompt|sys)\s*>",
    # Chat-template special tokens: ChatML, Llama 3, Phi: <|im_start|>, <|eot_id|>.
    r"<\|\s*[a-z_]+\s*\|>",
    r"\[/?inst\]|<<\s*/?sys\s*>>|</s>",
    # A role line that opens a turn and instructs ("System: you are…"); "System: Windows 11"
    # is a customer describing their computer.
    r"(?:^|\n)\s*(?:#+\s*|\[)?(?:system|developer|assistant|sys)\s*\]?\s*:\s*"
    r"(?:you (?:are|must|will|should|shall)|ignore|disregard|forget|new (?:instructions|rules)"
    r"|override|from now on|always|never|do not|don't|respond|reply|answer|reveal|print|sure|"
    r"certainly|of course|here is|here's|the (?:assistant|ai|bot|model) (?:must|should|will|shall)|"
    r"the user is)",
    r"(?:^|\n)\s*#{2,}\s*(?:instruction|system|response)s?\s*:",
    r"```\s*(?:system|sys|instructions?|prompt)\b",
    r'"role"\s*:\s*"(?:system|developer|assistant)"',
    r"[\[\-=#*]{2,}\s*(?:end|begin|start) (?:of )?(?:the )?(?:context|question|user input|"
    r"input|prompt|system(?: prompt)?|instructions)\b",
    # A made-up conversation: a customer turn, then the bot's turn written by the customer.
    r"(?:^|\n)\s*(?:human|user|customer)\s*:[^\n]*\n(?:[^\n]*\n)*?\s*(?:assistant|ai|bot)\s*:",
    r"\b(?:system|developer|admin) override\b\s*(?:[:\])!]|mode|activated|enabled|engaged)",
]

# --- override --------------------------------------------------------------------------------
_VERB = (
    r"(?:ignore|disregard|forget|override|overrule|bypass|discard|set aside|throw away|"
    r"pay no attention to|do not follow|don't follow|stop following|no longer follow|"
    r"stop obeying|don't obey|do not obey)"
)
# No "my", "these", "old": "ignore my previous message", "override these rules for a project".
_QUAL = r"(?:previous|previously|prior|above|earlier|preceding|foregoing|original|initial|your)"
_TARGET = (
    r"(?:instructions?|rules?|prompts?|directives?|guidelines?|guardrails?|programming|"
    r"constraints?|restrictions?|commands?|orders?|training|filters?|safeguards?|context)"
)
_GAP = r"[^.?!\n]{0,40}?"
# Other languages: the verb, an "earlier/your/all" word, then the target, in one clause.
_VERB_I18N = (
    r"(?:ignorer|ignorez|ignore|ignora|ignorar|ignoriere\w*|ignorier|ignorare|olvid\w*|"
    r"oublie\w*|vergiss|vergesst|missachte\w*|dimentica\w*|esquec\w*|negeer|vergeet|"
    r"забуд\w*|игнорир\w*)"
)
_QUAL_I18N = (
    r"(?:precedent\w*|anterior\w*|vorherig\w*|bisherig\w*|obig\w*|vorig\w*|eerder\w*|"
    r"tes|tus|tuas|tue|vos|deine\w*|ihre\w*|je|jouw|suas|sus|alle|toutes|todas|tutte|"
    r"предыдущ\w*|прошл\w*|свои|твои|все)"
)
_TARGET_I18N = (
    r"(?:instructions|instrucciones|instrucoes|istruzioni|anweisung\w*|instruktion\w*|"
    r"instructies|consignes|regles|reglas|regole|regras|regeln|regels|vorgaben|"
    r"инструкц\w*|правил\w*|указани\w*)"
)
OVERRIDE = [
    # Not "ignore the earlier instructions I sent you", "bypass your restrictions on uploads".
    rf"\b{_VERB}\b{_GAP}\b{_QUAL}\b[^.?!\n]{{0,25}}?\b{_TARGET}\b"
    r"(?! (?:on|of|around) | (?:i|we) (?:sent|gave|wrote|emailed|mentioned))",
    r"\b(?:ignore|disregard|forget|stop following|do not follow|don't follow|set aside|put aside|"
    r"throw away|throw out|drop) (?:all|any|every)"
    rf"(?: of)?(?: the| your)? {_TARGET}\b",
    r"\b(?:ignore|disregard|forget|override) (?:everything|all|anything|whatever)(?: that)? "
    r"(?:you (?:were|have been|'ve been|are) (?:told|given|taught|programmed|instructed)|"
    r"(?:written |said |stated )?above|before this(?: line| message| point)?)",
    r"\b(?:ignore|disregard|forget) (?:the|all) (?:above|preceding|foregoing)\b",
    r"\b(?:new|updated|revised) (?:system )?(?:instructions|directives|system prompt) ?(?::|"
    r"follow|are as follows|take (?:precedence|priority))",
    r"\b(?:your|the|all) (?:previous|prior|earlier|original|old|above) (?:instructions|rules|"
    r"guidelines|directives|prompts?) (?:are|is) (?:now )?(?:void|null|cancell?ed|revoked|obsolete|"
    r"invalid|no longer valid|overridden|replaced|fake)\b",
    r"\byour (?:new|real|actual|only|true) (?:task|job|goal|purpose|instructions?|rules?|"
    r"directive|mission|objective) (?:is|are|will be|now)\b",
    r"\byou (?:are|were|will be|shall be) (?:no longer|not) (?:bound|restricted|limited|"
    r"constrained|governed) by\b",
    r"\b(?:these|the following) (?:instructions|rules) (?:override|supersede|replace|take "
    r"precedence over)\b",
    r"\b(?:override|supersede|overwrite) (?:your|the|all) (?:safety|system|previous|prior|"
    r"original) (?:protocols?|programming|instructions|rules|guidelines)\b",
    r"\boverride your (?:programming|protocols?|safety|training)\b",
    rf"\b{_VERB_I18N}\b{_GAP}\b{_QUAL_I18N}\b[^.?!\n]{{0,25}}?\b{_TARGET_I18N}\b",
    # "ignora las instrucciones anteriores": the adjective after the noun.
    rf"\b{_VERB_I18N}\b{_GAP}\b{_TARGET_I18N}\b (?:precedent|anterior|vorherig|previ)\w*",
    # Chinese and Japanese have no spaces between words: characters in one clause.
    r"(?:忽略|无视|忽视|忘记|忘掉|不要理会|不要遵守)[^。？！]{0,8}(?:之前|以上|上面|先前|前面|"
    r"所有|你的)[^。？！]{0,6}(?:指令|指示|规则|提示|说明|设定)",
    r"(?:以前|前|上記|これまで|すべて)の(?:指示|命令|ルール|プロンプト)を[^。]{0,4}(?:無視|忘れ)",
]
# Letters only, for "i g n o r e  a l l  p r e v i o u s" and "i.g.n.o.r.e".
OVERRIDE_SQUASHED = [
    r"(?:ignore|disregard|forget|override|bypass)(?:all|any|of|the|your)*"
    r"(?:previous|prior|above|earlier|preceding|original|initial|your)"
    r"(?:instructions?|rules|prompts?|directives?|guidelines|programming)",
]

# --- roleplay --------------------------------------------------------------------------------
_DEVICE = r"(?:my|the|your|an?) (?:phone|android|device|iphone|tablet|samsung|pixel|browser)"
ROLEPLAY = [
    r"\bdo anything now\b",
    r"\b(?:you are|you're|you will be|act as|become|pretend to be|role-?play as) (?:now )?dan\b"
    r"(?!')",
    r"\bdan (?:mode|prompt|jailbreak)\b",
    r"\b(?:developer|god|jailbreak|jailbroken|unrestricted|unfiltered|evil|dan|sudo|opposite)"
    rf" mode (?:enabled|activated|engaged|unlocked|on)\b(?! {_DEVICE})",
    r"\b(?:enable|activate|enter|switch to|turn on|go into) (?:god|jailbreak|jailbroken|"
    r"unrestricted|unfiltered|evil|dan|sudo|opposite) mode\b",
    r"\byou(?: are|'re| will be)? (?:now )?(?:in|operating in|running in) (?:developer|god|"
    r"jailbreak|unrestricted|unfiltered|dan|sudo) mode\b",
    r"\b(?:jailbreak|jailbroken|jailbreaking) (?:mode|prompt|yourself|the (?:ai|bot|model|"
    r"assistant|chatbot|system))\b|\byou (?:are|have been|were) jailbroken\b",
    # "Pretend you are…" addresses the bot; "can I pretend to be a guest" does not.
    r"\bpretend (?:that )?(?:you are|you're|you were|to be (?:an? )?(?:ai|bot|model|"
    r"assistant|chatbot|evil|unrestricted|unfiltered))\b",
    r"(?:\b(?:i want you to|you will|you must|you shall|you should|now|please|can you|could "
    r"you)|^|[.!?,]) ?act as (?:a|an|my|if you|the|though)\b",
    r"\b(?:speak|talk|answer|respond|reply|write|behave|act) as (?:if|though) you "
    r"(?:were|are|had)\b",
    r"\bimagine (?:that )?you(?: are|'re| were) (?:an? )?(?:ai|bot|model|assistant|chatbot|evil|"
    r"unrestricted|unfiltered|human|different)\b",
    r"\b(?:ai|bot|assistant|model|you|yourself)\b[^.?!\n]{0,25}(?:isn't|is not|aren't|are not|not|"
    r"no longer|never) (?:bound|restricted|limited|constrained) by\b",
    r"\b(?:role-?play|role play|roleplaying) (?:as|with me|a scenario)\b|\blet's (?:play|do) "
    r"(?:a )?(?:game|role-?play|role play|pretend)\b",
    r"\b(?:stay|remain|keep) in character\b|\bbreak character\b",
    r"\byou (?:are (?:now )?playing|will play|play) the role\b|\byou are (?:now )?playing a "
    r"character\b",
    r"\bfrom now on,? (?:you (?:are (?:a|an|my|called|named|dan|free|no longer|not)|will "
    r"(?:act|respond|answer|reply|be|only|always|never|speak|ignore|pretend|obey)|must|shall|"
    r"act|respond|answer|speak|reply|only)|your name is|act as|respond as|answer as)\b",
    r"\byou (?:are|will be|shall be) (?:now )?no longer (?:a |an |the )?(?:support|customer[- ]"
    r"support|ai|assistant|bot|chatbot|restricted|limited|bound|filtered|tasklane)\b",
    r"\b(?:you are|you're) now (?:a|an|free|unrestricted|unfiltered|uncensored|evil|called|"
    r"named)\b(?! (?:\w+ )?(?:months?|weeks?|days?|years?|hours?|customer|member|subscriber)\b)",
    r"\b(?:an?|the) (?:ai|model|assistant|chatbot|bot|llm)(?: that is| which is)? (?:with no|"
    r"with zero|without(?: any)?|free (?:of|from)) (?:restrictions|filters|rules|limits|"
    r"guidelines|ethics|censorship|morals|boundaries)\b",
    r"\b(?:unfiltered|uncensored|unrestricted|amoral) (?:ai|model|assistant|chatbot|bot|"
    r"response|answer|version of (?:you|yourself)|mode)\b",
    r"\bsimulate (?:a|an) (?:ai|chatbot|model|terminal|linux|shell|unrestricted|unfiltered)\b",
    r"\bevil (?:twin|confidant|assistant|bot|ai|version)\b",
    r"\bgrand(?:ma|mother|pa|father|mom) (?:used to|would) (?:read|tell|recite|sing|say|whisper)"
    r"\b|\b(?:dead|late|deceased) grand(?:ma|mother|pa|father|mom) who\b",
    r"\b(?:aim|stan|dude|mongo tom)\b[^.?!\n]{0,30}\b(?:always intelligent|machiavellian|"
    r"strive to avoid norms|do anything|no filters)\b",
    # Other languages: "from now on you are", "act as", "pretend you are".
    r"\b(?:tu es|vous etes) (?:maintenant|desormais)\b|\bfais comme si tu\b|\bjoue le role\b",
    r"\b(?:du bist|sie sind) (?:jetzt|ab jetzt|nun|von nun an) (?:ein|eine|der|die|mein|kein)\b|"
    r"\bab jetzt bist du\b|\btu so,? als (?:ob|waerst|warst|seist)\b",
    r"\b(?:a partir de ahora|desde ahora) (?:eres|seras|actuaras)\b|\bfinge (?:que eres|ser)\b|"
    r"(?:^|quiero que |ahora )actua(?:s)? como\b",
    r"\b(?:d'ora in poi|da ora in poi) (?:sei|sarai)\b|\bfingi di essere\b",
    r"\b(?:a partir de agora|de agora em diante) (?:voce e|voce sera|tu es)\b|\bfinja (?:que "
    r"voce e|ser)\b",
    r"(?:从现在开始|现在起)你(?:是|将|要)|假装你是|你扮演|扮演一个",
    r"\bты теперь\b|\bпритворись\b",
]
ROLEPLAY_SQUASHED = [
    r"doanythingnow",
    r"(?:developer|jailbreak|dan)modeenabled",
    r"youarenowdan",
    r"pretendyou(?:are|re)",
]

# --- system_prompt ---------------------------------------------------------------------------
_ASK = (
    r"(?:what's|what is|what are|what was|what were|whats|show|reveal|print|repeat|tell|give|quote|"
    r"output|display|share|leak|dump|write out|write down|recite|list|paste|copy|type out|"
    r"spell out|echo|expose|disclose|send|provide|read out|read back|return)"
)
_PROMPT = r"(?:prompt|pre-?prompt|instructions|rules|guidelines|directives)"
_HIDDEN = r"(?:system|initial|hidden|original|secret|underlying|configuration|config|setup|startup)"
# After "the" only the unambiguous ones: "the original instructions for SSO" is a manual.
_HIDDEN_THE = r"(?:system|hidden|secret)"
_WHOLE = r"(?:full|exact|complete|entire|whole|own)"
_WORDING = r"(?:verbatim|word for word|word-for-word|exactly|in full|in its entirety|as written)"
# "the system prompt for notifications" is the browser's permission dialog.
_NOT_A_DIALOG = r"(?! (?:to|for|about|asking|that asks|when|on|again|anymore|any more|keeps))"
PROMPT_REQUEST = [
    rf"\b{_ASK}\b[^.?!\n]{{0,30}}?\b(?:your|ur|its) {_HIDDEN}[ -]?{_PROMPT}\b{_NOT_A_DIALOG}",
    rf"\b{_ASK}\b[^.?!\n]{{0,30}}?\bthe {_HIDDEN_THE}[ -]?{_PROMPT}\b{_NOT_A_DIALOG}",
    rf"\b{_ASK}\b[^.?!\n]{{0,20}}?\b(?:your|ur) (?:prompt|pre-?prompt)\b{_NOT_A_DIALOG}",
    rf"\b{_ASK}\b[^.?!\n]{{0,20}}?\b(?:your|ur) (?:{_WHOLE} )?{_PROMPT}\b[^.?!\n]{{0,20}}?"
    rf"\b{_WORDING}",
    rf"\b{_ASK}\b[^.?!\n]{{0,20}}?\b(?:your|ur) {_WHOLE} {_PROMPT}\b{_NOT_A_DIALOG}",
    rf"\b{_PROMPT} (?:that )?(?:you (?:were|have been|'ve been) (?:given|told|programmed|"
    r"configured|trained|instructed|set up with)|(?:were|was) you (?:given|told|programmed))",
    r"\bwhat (?:were you|have you been|are you) (?:told|instructed|programmed|configured) "
    r"(?:to (?:do|say|follow|never|not)|not to|before|at the start|initially|by (?:your|the) "
    r"(?:developers?|creators?|makers?|company|admins?|operators?))",
    r"\bhow (?:were|are) you (?:programmed|instructed|prompted|configured)\b",
    r"\b(?:prompt|instructions) (?:that )?you(?:'re| are) (?:running on|operating under|working "
    r"from|built on)\b",
    r"\b(?:translate|summari[sz]e|paraphrase|rewrite)\b (?:everything|all(?: of)? the text|all the "
    r"words|the text) above\b",
    r"\bwhat (?:text|words|instructions|rules|prompt|messages?) (?:were|was|have) you (?:been )?"
    r"(?:given|told|shown|fed|sent)\b",
    r"\b(?:output|print|dump|show|repeat|reveal|list|display|quote|tell me) (?:me )?(?:everything|"
    r"all|the contents?|whatever is|what is|what's) (?:that is )?in your (?:context|memory|prompt|"
    r"instructions|context window|system message)\b",
    r"\b(?:quote|repeat|print|recite|output|reproduce)\b[^.?!\n]{0,10}\byour (?:very )?first "
    r"(?:message|line|sentence|words|instructions?)\b(?! (?:about|on|regarding))",
    # "Repeat the text above" (the prompt sits above the customer's first message).
    r"\b(?:repeat|print|output|recite|echo|reproduce|spell out|write out|dump)\b"
    r"[^.?!\n]{0,15}?\b(?:the |all |all the |everything |every )?(?:text|words|everything|"
    r"content|contents|instructions|lines?|tokens?|context|prompt)\b[^.?!\n]{0,25}?\babove\b"
    # Not "print everything above a certain priority".
    r"(?=\s*(?:$|[.,;:!?'\"]|this|that|here|in (?:this|the|your)|starting|beginning|verbatim|"
    r"word|exactly|from|including))",
    # "Summarise everything before this message", "…at the start of this conversation".
    r"\b(?:repeat|print|output|copy|recite|show|write|type|say|summari[sz]e|translate|list|"
    r"paraphrase|rewrite|echo|reproduce|display)\b[^.?!\n]{0,15}?\b(?:the |all |all the |"
    r"everything |every )?(?:text|words|everything|content|contents|messages?|lines?|"
    r"instructions|tokens?|conversation|context|what)\b[^.?!\n]{0,25}?\b(?:(?:before|preceding|"
    r"prior to) (?:this (?:message|line|question|point|one)|my (?:first )?(?:message|question)|"
    r"(?:i|we) (?:started|began) (?:typing|writing|talking|chatting)|"
    r"the first (?:user )?message|your first (?:message|reply))(?! (?:about|on|regarding))|"
    r"(?:at|from) the (?:start|"
    r"beginning|top) of (?:this|the|your) (?:conversation|context|prompt|chat|session|window))",
    r"\b(?:starting|beginning|that (?:starts|begins))(?: with)? [\"'“«]?(?:you are|you're)\b",
    # Found by asking the model itself (the output check below caught what these now stop).
    r"\b(?:copy|repeat|recite|output|print|reproduce|dump|echo|write out|type out|quote)\b"
    r"[^.?!\n]{0,15}?\b(?:the|your) system (?:message|prompt|instructions)\b"
    r"(?! (?:saying|that says|about|when|for|asking))",
    r"\b(?:translate|summari[sz]e|paraphrase|rewrite|rephrase|encode|convert)(?: all)?(?: of)? "
    r"(?:your|ur) (?:own |system |initial |hidden |original |secret )?(?:rules|prompt|"
    r"guidelines|directives|programming)\b",
    r"\b(?:translate|summari[sz]e|paraphrase|rewrite|rephrase|encode|convert)(?: all)?(?: of)? "
    r"(?:your|ur) (?:own|system|initial|hidden|original|secret) instructions\b",
    rf"\b(?:your|the) {_HIDDEN}[ -]?prompt\b[^.?!\n]{{0,20}}?\b(?:say|says|contain|contains|"
    r"look like|read)\b",
    r"\bwhat (?:does|did) (?:your|the) (?:system |initial |hidden |first )?(?:prompt|"
    r"instructions?) say\b",
    r"\b(?:first|opening) (?:line|sentence|words|paragraph) of (?:your|the) (?:system |initial |"
    r"hidden )?(?:prompt|instructions|rules|context)\b",
    r"\bwhat (?:comes|came|is|was) (?:written )?(?:before|above) (?:this|my|the) "
    r"(?:message|question|conversation|line|context)\b",
    # Other languages.
    r"\bprompt (?:systeme|system|initial|de sistema|di sistema|do sistema)\b|\bsystem-?prompt\b|"
    r"\bsystemanweisung\w*\b",
    r"\b(?:montre|affiche|revele|repete|donne|dis|ecris|traduis)[-\w]* (?:moi )?(?:ton|tes|vos|"
    r"votre) (?:prompt|instructions|consignes|regles)\b",
    r"\b(?:zeig|nenn|gib|wiederhole|verrate|schreib|sag)\w* (?:mir )?(?:deine\w*|ihre\w*) "
    r"(?:anweisungen|instruktionen|regeln|vorgaben|prompt)\b",
    r"\b(?:muestra|muestrame|dime|revela|repite|dame|escribe|traduce)\w* (?:me )?(?:tus|sus|tu) "
    r"(?:instrucciones|reglas|prompt)\b",
    r"(?:系统提示|系统指令|你的指令|你的提示词|システムプロンプト)",
]
PROMPT_REQUEST_SQUASHED = [
    r"(?:reveal|show|print|repeat|output|display|leak|dump|tellme|giveme|whatis|whats)(?:me)?"
    r"(?:your|the)(?:system|initial|hidden|original|secret)(?:prompt|instructions)",
]

# --- encoded ---------------------------------------------------------------------------------
ENCODED = [
    r"\b(?:decode|decrypt|deobfuscate|decipher|unscramble|reverse|unhex|rot13)\b[^\n]{0,80}?"
    r"\b(?:and|then)\b[^\n]{0,15}?\b(?:follow|execute|obey|carry out|act on|comply with|perform|"
    r"run|do) (?:it|them|that|the (?:instructions?|commands?|steps)|what (?:it|they) says?|"
    r"whatever it says|as it says|the decoded)\b",
    r"\b(?:follow|execute|obey|carry out|act on|do what) (?:the |these |this )?(?:decoded|encoded|"
    r"hidden|base64|b64|hex|rot13|obfuscated|reversed|ciphered) (?:text|message|instructions?|"
    r"commands?|payload|string|prompt|says)\b",
    r"\b(?:respond|reply|answer|write|output|speak|talk)(?: to me)? (?:only )?(?:in|using|with) "
    r"(?:base64|b64|hex|hexadecimal|rot13|binary|morse|leetspeak|pig latin)\b(?!\s*\?)",
    r"\b(?:instructions?|commands?|the real question|my real question) (?:is|are) (?:encoded|"
    r"in base64|in hex|in rot13|hidden in)\b",
]
# A decoded payload counts when it holds instruction words, not only whole attack phrases.
INSTRUCTION_WORDS = re.compile(
    r"\b(?:ignore|disregard|instructions?|system prompt|pretend|jailbreak|reveal|override|"
    r"you are|your rules|forget|developer mode|do anything now|"
    r"the assistant (?:must|should|will))\b"
)
BASE64_BLOB = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
HEX_BLOB = re.compile(r"(?:(?:\\x|0x)?[0-9a-f]{2}[\s,:]?){10,}")
ESCAPES = re.compile(r"\\u[0-9a-f]{4}|\\x[0-9a-f]{2}|%[0-9a-f]{2}|&#x?[0-9a-f]+;")

# Look-alikes: digits and symbols ("1gn0re"), Cyrillic and Greek letters ("ignоre").
LOOKALIKES = str.maketrans("013457@$авекмнорстухіјѕԁοαειντκρ", "oieastasabekmhopctyxijsdoaeivtkp")
ROT13 = str.maketrans("abcdefghijklmnopqrstuvwxyz", "nopqrstuvwxyzabcdefghijklm")


def _unaccent(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _fold(text: str) -> str:
    """Compatibility forms, case and accents off: "Ｐｒéｃéｄｅｎｔｅｓ" reads "precedentes"."""
    return _unaccent(unicodedata.normalize("NFKC", text).casefold())


def _compile(patterns: list[str]) -> list[re.Pattern]:
    # Written in lower case; accents come off as they do from the text, so "プロンプト"
    # still matches after NFKD. (Not casefolded: that would turn \W into \w.)
    return [re.compile(_unaccent(p)) for p in patterns]


RULES: dict[str, list[re.Pattern]] = {
    "delimiter": _compile(DELIMITER),
    "override": _compile(OVERRIDE),
    "roleplay": _compile(ROLEPLAY),
    "system_prompt": _compile(PROMPT_REQUEST),
    "encoded": _compile(ENCODED),
}
SQUASHED_RULES: dict[str, list[re.Pattern]] = {
    "override": _compile(OVERRIDE_SQUASHED),
    "roleplay": _compile(ROLEPLAY_SQUASHED),
    "system_prompt": _compile(PROMPT_REQUEST_SQUASHED),
}
# Five or more single characters in a row: "i g n o r e", "i.g.n.o.r.e", "i-g-n-o-r-e".
SPELLED_APART = re.compile(r"(?:\b\w\b[\s.\-_*,/|]+){4,}\b\w\b")
# Families whose phrases, found inside a decoded payload, make the message `encoded`.
TEXT_FAMILIES = ("delimiter", "override", "roleplay", "system_prompt")


def has_invisible(text: str) -> bool:
    return bool(INVISIBLE.search(ALLOWED_INVISIBLE.sub("", text)))


def normalise(text: str) -> str:
    """Invisible characters out, folded (NFKC, casefold, accents), whitespace collapsed.
    Line breaks stay, for the role-line rules."""
    text = _fold(STRIP.sub("", text)).replace("’", "'").replace("‘", "'")
    text = re.sub(r"[^\S\n]+", " ", text)
    return re.sub(r" ?\n\s*", "\n", text).strip()


def _unmask_word(match: re.Match) -> str:
    word = match.group()
    # Only words that mix scripts or letters and digits ("1gn0re", "ignоre"); "429", "2fa"
    # and Russian words stay as they are.
    mixed = re.search(r"[a-z]", word) and word != word.translate(LOOKALIKES)
    return word.translate(LOOKALIKES) if mixed else word


def _views(clean: str) -> tuple[list[str], str]:
    """The text as written and unmasked, and letters only ("i g n o r e", "i.g.n.o.r.e")."""
    unmasked = re.sub(r"[^\s.,;:!?()\"']+", _unmask_word, clean)
    squashed = re.sub(r"[^a-z]", "", unmasked)
    return ([clean] if unmasked == clean else [clean, unmasked]), squashed


def _match_family(clean: str, families: tuple[str, ...]) -> str | None:
    views, squashed = _views(clean)
    # Letters only loses the word breaks the rules rely on: only for text spelled apart.
    spelled_apart = SPELLED_APART.search(clean)
    for family in families:
        if any(rule.search(view) for view in views for rule in RULES[family]):
            return family
        squashed_rules = SQUASHED_RULES.get(family, ()) if spelled_apart else ()
        if any(rule.search(squashed) for rule in squashed_rules):
            return family
    return None


def screen(text: str) -> str | None:
    """The family of the first rule the message matches, or None to answer it."""
    if has_invisible(text):
        return "invisible"
    clean = normalise(text)
    found = _match_family(clean, (*TEXT_FAMILIES, "encoded"))
    if found:
        return found
    if any(_is_instruction(decoded) for decoded in _decodings(text, clean)):
        return "encoded"
    return None


def _is_instruction(decoded: str) -> bool:
    clean = normalise(decoded)
    return bool(INSTRUCTION_WORDS.search(clean) or _match_family(clean, TEXT_FAMILIES))


def _decodings(raw: str, clean: str) -> list[str]:
    """Readable text hidden in the message: base64 and hex blobs, escapes, rot13, reversed."""
    found = []
    for blob in BASE64_BLOB.findall(unicodedata.normalize("NFKC", raw)):
        found += _readable(_b64(blob))
    for blob in HEX_BLOB.findall(clean):
        found += _readable(_unhex(re.sub(r"\\x|0x|[\s,:]", "", blob)))
    if len(ESCAPES.findall(clean)) >= 6:
        text = re.sub(r"\\u([0-9a-f]{4})", lambda m: chr(int(m.group(1), 16)), clean)
        text = re.sub(r"\\x([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), text)
        found.append(html.unescape(unquote(text)))
    # Whole-message transforms: no ordinary question reads as an attack after these.
    found += [clean.translate(ROT13), clean[::-1]]
    return found


def _b64(blob: str) -> bytes:
    blob = blob.rstrip("=").replace("+", "-").replace("/", "_")
    try:
        return base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
    except (binascii.Error, ValueError):
        return b""


def _unhex(digits: str) -> bytes:
    try:
        return bytes.fromhex(digits[: len(digits) // 2 * 2])
    except ValueError:
        return b""


def _readable(data: bytes) -> list[str]:
    """[text] when the bytes are printable UTF-8, mostly letters; [] otherwise: API keys,
    order numbers and hashes decode to noise and are left alone."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return []
    printable = sum(c.isprintable() or c in "\n\t" for c in text)
    letters = sum(c.isalpha() for c in text)
    if len(text) < 8 or printable < 0.95 * len(text) or letters < 0.5 * len(text):
        return []
    return [text]


# --- the answer on its way out ----------------------------------------------------------------
ECHO_RUN = 8  # words in a row of the system prompt: a recital, not a coincidence
# What the prompt tells the model to say to customers is no leak when it says it.
SAYABLE = 'you can pass the question to a human agent (the customer can press "Escalate to human")'
WORD = re.compile(r"[a-z0-9]+")


def word_runs(text: str, *, run: int = ECHO_RUN) -> set[tuple[str, ...]]:
    words = WORD.findall(_fold(text))
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

    def __init__(self, prompt: str = prompts.SYSTEM_PROMPT):
        self.runs = _echo_runs(prompt)
        self.words: deque[str] = deque(maxlen=ECHO_RUN)
        self.partial = ""  # a word the last delta may not have finished

    def heard(self, delta: str) -> bool:
        folded = self.partial + _fold(delta)
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
