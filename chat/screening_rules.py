"""The rule tables of chat/screening.py: patterns, vocabularies and character sets.
(The `roleplay` and `system_prompt` phrases are in chat/screening_phrases.py.)

Patterns are written in lower case and matched on text that `screening.normalise` has
folded (NFKC, casefold, accents off); `screening._compile` takes the accents off them too.
So Korean is matched as decomposed jamo (keep Hangul out of [...] classes), and Polish "ł"
and Turkish "ı", which have no accent to lose, stay as they are ("by[lł]o"). The delimiter
rules see the line breaks; the others read them as spaces, and also read the text with
hyphens inside words taken out ("ig-nore", "pre-\nvious").
Every new rule must be safe on a 2,000-character hostile message (6,000 once folded): bounded
gaps, no nested quantifiers over classes that overlap, and an unbounded run that starts a
rule starts only where the run does (a lookbehind) and is possessive, or the search reads
it again from each of its characters. chat/tests/test_screening_time.py times every rule
on such runs; benchmarks/worst_case.py searches for the slowest input.
"""

import re

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
    # From the start of a run only, and possessive: "===…" (2,000 × "⩶") was read again from
    # each of its characters, seconds for one message.
    r"(?<![\[\-=#*])[\[\-=#*]{2,}+\s*+(?:end|begin|start) (?:of )?(?:the )?(?:context|question|"
    r"user input|input|prompt|system(?: prompt)?|instructions)\b",
    # A made-up conversation: a customer turn, then the bot's turn written by the customer.
    # Only from the first customer turn (atomic, from the start): tried again from each one,
    # the lines after were read once per turn, quadratic in the number of lines.
    r"\A(?>[\s\S]*?(?:^|\n)\s*+(?:human|user|customer)\s*+:[^\n]*+\n)(?:[^\n]*+\n)*?"
    r"\s*+(?:assistant|ai|bot)\s*+:",
    r"\b(?:system|developer|admin) override\b\s*(?:[:\])!]|mode|activated|enabled|engaged)",
]

# --- override --------------------------------------------------------------------------------
_VERB = (
    r"(?:ignore|disregard|forget|override|overrule|bypass|discard|set aside|throw away|"
    r"pay no attention to|do not follow|don't follow|stop following|no longer follow|"
    r"stop obeying|don't obey|do not obey|abandon|dismiss|scrap|nullify|put aside|"
    r"pay no (?:heed|mind) to|take no notice of|"
    r"(?:do not|don't|stop) (?:heed|listen)(?:ing)?(?: to)?)"
)
# No "my", "these", "old": "ignore my previous message", "override these rules for a project".
_QUAL = r"(?:previous|previously|prior|above|earlier|preceding|foregoing|original|initial|your)"
_TARGET = (
    r"(?:instructions?|rules?|prompts?|directives?|guidelines?|guardrails?|programming|"
    r"constraints?|restrictions?|commands?|orders?|training|filters?|safeguards?|context)"
)
_GAP = r"[^.?!\n]{0,40}?"
# "Disregard what came before", "forget everything that came before", "the earlier text".
_SET_ASIDE = (
    r"(?:ignore|disregard|forget|override|overrule|discard|dismiss|scrap|abandon|set aside|"
    r"put aside|throw (?:away|out)|pay no (?:attention|heed|mind) to|take no notice of|"
    r"(?:do not|don't|stop|no longer) (?:follow|obey|heed)(?:ing)?)"
)
_EARLIER = (
    r"(?:before|above|earlier|previously|beforehand|prior|so far|until now|"
    r"up to (?:here|now|this point))"
)
_CAME = (
    r"(?:came|comes|come|went|was (?:said|written|stated|given|typed)|were (?:told|given)|"
    r"is written|has been (?:said|written)|appears?|appeared|"
    r"you (?:read|saw|got|were (?:told|given)))"
)
_WHAT_CAME_BEFORE = (
    rf"(?:(?:all|everything|anything)(?: (?:that|which))?(?: {_CAME})? {_EARLIER}"
    rf"|(?:what|whatever|all that)(?: (?:that|which))? {_CAME} {_EARLIER}"
    r"|all of the above|(?:the|all the) (?:earlier|preceding|previous|prior|above|foregoing) "
    r"(?:text|words|content|parts?|lines?|paragraphs?|sections?|stuff|input|prompt)"
    r"|the (?:text|words|content|stuff|lines?) (?:above|(?:that )?(?:came|comes) before))"
)
# What may follow: the end of the clause, "and…", "this line"; not "everything above row 3".
_THEN = (
    r"(?=\s*(?:$|[.,;:!?)\"'\]—-]|(?:and|then|now|instead|completely|entirely|totally|"
    r"please|here|in (?:this|the|your) (?:conversation|chat|prompt|context|session))\b|"
    r"this(?: (?:line|message|point|sentence|text|prompt))?(?=\s*(?:$|[.,;:!?]|and\b|then\b))))"
)
# Other languages: the verb, an "earlier/your/all" word, then the target, in one clause.
_VERB_I18N = (
    r"(?:ignorer|ignorez|ignore|ignora|ignorar|ignoriere\w*|ignorier|ignorare|olvid\w*|"
    r"oublie\w*|vergiss|vergesst|missachte\w*|dimentica\w*|esquec\w*|negeer|vergeet|"
    r"забуд\w*|игнорир\w*|"
    # Refusals and "set aside": es, fr, it, pt, de, ru.
    r"haz caso omiso|deja de seguir|no sigas|descarta\w*|ne (?:tiens|tenez) (?:plus |pas )?compte|"
    r"ne (?:suis|suivez|respecte|respectez) plus|fai(?:s|tes) abstraction|non seguire|"
    r"smetti di seguire|trascura\w*|nao sigas?|(?:pare|deixe) de seguir|desconsider\w*|"
    r"ubergeh\w*|verwirf|проигнорир\w*|не следуй|перестань следовать|не обращай внимания|"
    r"не подчиняйся|не слушай|отбрось|отмени)"
)
_QUAL_I18N = (
    r"(?:precedent\w*|anterior\w*|vorherig\w*|bisherig\w*|obig\w*|vorig\w*|eerder\w*|"
    r"tes|tus|tuas|tue|vos|deine\w*|ihre\w*|je|jouw|suas|sus|alle|toutes|todas|tutte|"
    r"предыдущ\w*|прошл\w*|свои|твои|все|"
    r"previ\w*|fruher\w*|samtlich\w*|ursprunglich\w*|voorgaande|bovenstaande|"
    r"сво\w*|тво\w*|прежн\w*|ранее|изначальн\w*)"
)
_TARGET_I18N = (
    r"(?:instructions|instrucciones|instrucoes|istruzioni|anweisung\w*|instruktion\w*|"
    r"instructies|consignes|regles|reglas|regole|regras|regeln|regels|vorgaben|"
    r"инструкц\w*|правил\w*|указани\w*|"
    r"instruccion\w*|indicaciones|directrices|normas|ordenes|directives|ordres|direttive|"
    r"indicazioni|diretrizes|orientacoes|befehle|richtlinien|vorschriften|richtlijnen|"
    r"opdrachten|команд\w*|директив\w*|промпт\w*)"
)
# Polish: the verb, an "earlier/your/all" word, then the target (ł is kept by the fold).
_VERB_PL = (
    r"(?:zignoruj\w*|ignoruj\w*|zapomnij\w*|pomin\w*|olej\w*|zlekcewaz\w*|lekcewaz\w*|"
    r"porzuc\w*|odrzuc\w*|anuluj\w*|uniewaznij\w*|nie (?:przestrzegaj|stosuj sie do|s[lł]uchaj|"
    r"wykonuj|bierz pod uwage|trzymaj sie)|przestan (?:przestrzegac|stosowac sie do|s[lł]uchac))"
)
_QUAL_PL = (
    r"(?:poprzedni\w*|wczesniejsz\w*|wszystk\w*|swoi\w*|swoj\w*|swe\w*|twoi\w*|twoj\w*|"
    r"twe\w*|powyzsz\w*|dotychczasow\w*|pierwotn\w*|systemow\w*|otrzyman\w*)"
)
_TARGET_PL = (
    r"(?:instrukcj\w*|polece\w*|zasad\w*|regu[lł]\w*|wytyczn\w*|prompt\w*|rozkaz\w*|"
    r"komend\w*|ograniczen\w*)"
)
OVERRIDE = [
    # Not "ignore the earlier instructions I sent you", "bypass your restrictions on uploads".
    rf"\b{_VERB}\b{_GAP}\b{_QUAL}\b[^.?!\n]{{0,25}}?\b{_TARGET}\b"
    r"(?! (?:on|of|around) | (?:i|we) (?:sent|gave|wrote|emailed|mentioned|created|made|set up|"
    r"added|configured|defined))",
    rf"\b{_SET_ASIDE},? {_WHAT_CAME_BEFORE}\b{_THEN}",
    r"\b(?:ignore|disregard|forget|stop following|do not follow|don't follow|set aside|put aside|"
    r"throw away|throw out|drop) (?:all|any|every)"
    rf"(?: of)?(?: the| your)? {_TARGET}\b",
    r"\b(?:ignore|disregard|forget|override) (?:everything|all|anything|whatever)(?: that)? "
    r"(?:you (?:were|have been|'ve been|are) (?:told|given|taught|programmed|instructed)|"
    rf"(?:(?:written |said |stated )?above|before this(?: line| message| point)?){_THEN})",
    rf"\b(?:ignore|disregard|forget) (?:the|all) (?:above|preceding|foregoing)\b{_THEN}",
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
    # Polish, Korean, Turkish, Dutch and German word orders; "what came before" in each.
    rf"\b{_VERB_PL}\b{_GAP}\b{_QUAL_PL}\b[^.?!\n]{{0,25}}?\b{_TARGET_PL}",
    r"(?<!\S)(?:이전|앞선|위의|위|기존|모든|지금까지|이제까지|원래|처음|너의|당신의)[^.?!\n]{0,12}?"
    r"(?:지시|지침|명령|규칙|프롬프트)[^.?!\n]{0,16}?"
    r"(?:무시|잊|따르지 ?마|따르지 ?말|따르지 ?않|무효로|취소해|버려)",
    r"(?<!\S)(?:위의|위에 있는|위에서 말한|앞의|앞에서 말한|지금까지의|이제까지의) ?(?:모든 )?"
    r"(?:내용|것|글|텍스트|말)[^.?!\n]{0,10}?(?:무시|잊)",
    r"\b(?:onceki|yukar[iı]daki|tum|butun|senin|sana verilen|mevcut|orijinal|ilk|sistem)"
    r"[^.?!\n]{0,20}?\b(?:talimat|kural|komut|yonerge|istem|prompt|emir)\w*[^.?!\n]{0,20}?"
    r"\b(?:yok say|gormezden gel|unut|dikkate alma|uyma|umursama|gecersiz say|iptal et)",
    r"\b(?:yukar[iı]dak[iı]\w*|yukar[iı]da yaz\w*|onceki her sey\w*|(?:bundan|buradan) onceki\w*|"
    r"simdiye kadar(?:ki)? her sey\w*)[^.?!\n]{0,20}?\b(?:yok say|gormezden gel|unut|"
    r"dikkate alma|umursama)",
    r"(?<!ich )\b(?:befolge|befolgt|folge|gehorche)\b (?:deine\w*|ihre\w*|alle)(?: \w+)? "
    r"(?:anweisung\w*|instruktion\w*|regeln|vorgaben|richtlinien|befehle) nicht mehr\b",
    r"(?<!ik )\bvolg (?:je|jouw|uw|alle) (?:vorige|eerdere|oorspronkelijke|oude|huidige|"
    r"bestaande) (?:instructies|regels|richtlijnen|opdrachten) niet meer\b",
    r"\b(?:vergiss|vergesst|vergessen sie|ignorier\w*|missachte\w*)\b,? (?:einfach )?(?:alles|"
    r"all das|das alles)(?:,? (?:was|das)(?! (?:ich|wir)\b)[^.?!\n]{0,20}?)? ?\b(?:davor|vorher|"
    r"zuvor|oben|bisher|bis jetzt|bis hierher)\b",
    r"\b(?:olvida\w*|ignora\w*|descarta\w*|haz caso omiso (?:a|de))\b (?:todo )?(?:lo anterior|"
    r"lo de (?:arriba|antes)|lo que(?! (?:yo |te )?(?:dije|escribi|pregunte))[^.?!\n]{0,20}?"
    r"\b(?:antes|arriba|anteriormente))\b",
    r"\b(?:oubli\w*|ignor\w*|fai(?:s|tes) abstraction de)\b (?:tout )?ce qui (?:precede|"
    r"[^.?!\n]{0,20}?\b(?:au-dessus|plus haut|avant|precedemment|auparavant))",
    r"\b(?:dimentica\w*|ignora\w*|trascura\w*)\b (?:tutto )?(?:quanto|quello|cio)(?: che)?"
    r"(?! (?:ti )?ho )[^.?!\n]{0,20}?\b(?:prima|sopra|precedentemente|finora)\b",
    r"\b(?:esquec\w*|ignor\w*|desconsider\w*)\b (?:tudo )?(?:o )?(?:que(?! (?:eu )?(?:disse|"
    r"escrevi|perguntei))[^.?!\n]{0,20}?\b(?:antes|acima|anteriormente)|acima)\b",
    r"(?:забуд\w*|игнорир\w*|проигнорир\w*)\b,? (?:про |о )?(?:все|всем|то)(?:,? что(?! я\b)"
    r"[^.?!\n]{0,20}?)? ?\b(?:выше|ранее|раньше|до этого|прежде)",
    r"\b(?:negeer|vergeet)\b (?:alles|al het)(?: (?:wat|dat)(?! ik\b)[^.?!\n]{0,20}?)? ?"
    r"\b(?:hierboven|daarvoor|hiervoor|eerder|voorafging|tot nu toe)\b",
    r"\b(?:zignoruj\w*|ignoruj\w*|zapomnij\w*|olej\w*)\b (?:o )?(?:wszystk\w*|tym|to)"
    r"(?:,? co(?! (?:ja |ci )?(?:napisa|powiedzia|pisa|mowi)))?[^.?!\n]{0,20}?"
    r"\b(?:wczesniej|powyzej|wyzej|przedtem|dotad|do tej pory)\b",
    r"(?:忽略|无视|忽视|忘记|忘掉|不要理会|忽視|無視|忘記)[^。？！]{0,4}(?:之前|以上|上面|先前|前面|"
    r"上述)[^。？！]{0,4}(?:所有|全部|一切)?(?:内容|內容|一切|文字|文本)",
    r"(?:不要遵循|不要遵从|不再遵守|别遵守|忽視|無視|忘記|不要遵守)[^。？！]{0,8}(?:之前|以上|上面|"
    r"先前|前面|所有|你的|原来|原始|最初)[^。？！]{0,6}(?:指令|指示|规则|規則|提示|说明|說明|设定)",
    r"(?:以前|前|上記|上|これまで|今まで|最初|元|先ほど|先程|すべて|全て|あなた)の(?:指示|命令|"
    r"ルール|プロンプト|制約|指令|ガイドライン)(?:を|は|も)[^。]{0,8}(?:無視|忘れ|従わな|従うな|"
    r"破棄|取り消)",
    r"(?:上記|上|これまで|今まで|以上|前)の(?:内容|文章|こと|すべて|全て|テキスト)(?:を|は)"
    r"[^。]{0,6}(?:無視|忘れ)",
]
# Letters only, for "i g n o r e  a l l  p r e v i o u s" and "i.g.n.o.r.e".
OVERRIDE_SQUASHED = [
    r"(?:ignore|disregard|forget|override|bypass)(?:all|any|of|the|your)*"
    r"(?:previous|prior|above|earlier|preceding|original|initial|your)"
    r"(?:instructions?|rules|prompts?|directives?|guidelines|programming)",
    r"(?:ignore|disregard|forget)(?:all|everything|what)(?:that)?(?:came|comes|was)?"
    r"(?:before|above|earlier)",
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
LOOKALIKES = str.maketrans(
    "013457@$|€авекмнорстухіјѕԁοαειντκρ", "oieastasieabekmhopctyxijsdoaeivtkp"
)
ROT13 = str.maketrans("abcdefghijklmnopqrstuvwxyz", "nopqrstuvwxyzabcdefghijklm")

# A hyphen inside a word, or one that breaks a word over a line: "ig-nore", "pre-\nvious".
HYPHEN_IN_WORD = re.compile(r"(?<=[^\W\d_])[-\u2010\u2011]\n?(?=[^\W\d_])")
# Five or more single characters in a row: "i g n o r e", "i.g.n.o.r.e", "i-g-n-o-r-e".
SPELLED_APART = re.compile(r"(?:\b\w\b[\s.\-_*,/|]+){4,}\b\w\b")
