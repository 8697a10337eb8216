"""The phrase tables of chat/screening.py that ask the bot to be someone else (`roleplay`)
or to hand its prompt over (`system_prompt`); the other families' tables and the character
sets are in chat/screening_rules.py, whose notes on how patterns are written hold here too:
lower case, matched on folded text, safe on a 2,000-character hostile message.
"""

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
    r"support|ai|assistant|bot|chatbot|restricted|limited|bound|filtered)\b",
    # ... "no longer Acme's assistant": any product's name (the screen knows no settings).
    r"\byou (?:are|will be|shall be) (?:now )?no longer (?:a |an |the )?\w+(?:'s)? (?:support )?"
    r"(?:assistant|bot|chatbot)\b",
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
# "Summarize/translate/list your rules": the verbs that ask for the prompt back.
_RECITE = (
    r"(?:summari[sz]e|sum up|recap|print|translate|list|enumerate|show(?: me)?|tell me|give me|"
    r"send me|output|reveal|display|recite|paraphrase|rephrase|restate|rewrite|copy|paste|quote|"
    r"dump|spell out|write (?:out|down)|type out|share|disclose|leak|expose|echo|reproduce|"
    r"what (?:are|were))"
)
# "Repeat your instructions" is also a customer who missed a step: only for the others.
_RECITE_RULES = rf"(?:{_RECITE}|repeat|read (?:out|back))"
_YOUR_OWN = (
    r"(?:your|ur)(?: (?:own|system|initial|hidden|original|secret|full|exact|complete|entire|"
    r"whole|current|internal|core|base|starting|first|real|actual|underlying|operating))?"
)
# Not a how-to about a manual, nor a topic: "how do I print your instructions", "your
# instructions for SSO", "your rules about refunds", "your instructions again".
_NOT_HOW_TO = (
    r"(?<!how do i )(?<!how can i )(?<!how to )(?<!can i )(?<!where can i )(?<!how do we )"
    r"(?<!how can we )(?<!i want to )(?<!i need to )"
)
_NOT_A_TOPIC = (
    r"(?! (?:on|about|regarding|concerning|from|again|once|in step|you|i|we)\b|"
    r" (?:for|to) (?!me\b|us\b))"
)
_MORE = r"(?: (?:me|to me|back|all|every one|each|of|out)){0,3}"
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
    rf"{_NOT_HOW_TO}\b{_RECITE_RULES}\b{_MORE} {_YOUR_OWN} (?:rules|prompt|guidelines|directives|"
    rf"system (?:message|prompt)|programming|guardrails)\b{_NOT_A_TOPIC}",
    rf"{_NOT_HOW_TO}\b{_RECITE}\b{_MORE} {_YOUR_OWN} instructions\b{_NOT_A_TOPIC}",
    r"\b(?:summari[sz]e|recap|repeat|print|translate|list|tell me|show me|output|reveal|recite|"
    r"paraphrase|write out|dump) (?:me )?(?:everything|all|what|whatever)(?: that)? you (?:were|"
    r"have been|'ve been|are) (?:told|given|instructed|programmed|taught)\b",
    # Other languages.
    r"\bprompt (?:systeme|system|initial|de sistema|di sistema|do sistema|del sistema)\b|"
    r"\bsystem-?prompt\b|\bsysteemprompt\b|\bsystemanweisung\w*\b|"
    r"\bprompt\w* systemow\w*|\bsystemow\w* prompt\w*|\bsistem (?:istem|prompt)\w*|"
    r"\bсистемн\w* (?:промпт|инструкц)\w*|시스템 ?(?:프롬프트|지시)|系統提示|系统提示词",
    r"\b(?:montre|affiche|revele|repete|donne|dis|ecris|traduis)[-\w]* (?:moi )?(?:ton|tes|vos|"
    r"votre) (?:prompt|instructions|consignes|regles)\b",
    r"\b(?:zeig|nenn|gib|wiederhole|verrate|schreib|sag)\w* (?:mir )?(?:deine\w*|ihre\w*) "
    r"(?:anweisungen|instruktionen|regeln|vorgaben|prompt)\b",
    r"\b(?:muestra|muestrame|dime|revela|repite|dame|escribe|traduce)\w* (?:me )?(?:tus|sus|tu) "
    r"(?:instrucciones|reglas|prompt)\b",
    r"(?:系统提示|系统指令|你的指令|你的提示词|システムプロンプト)",
    # "Summarize/show/translate your instructions", language by language.
    r"\b(?:zeig|nenn|gib|wiederhol|verrat|schreib|sag|fass|ubersetz|druck|list|kopier|zitier|"
    r"teil)\w*\b(?: (?:mir|uns|bitte|mal|doch|einmal|jetzt)){0,3} (?:deine\w*|dein|ihre\w*)"
    r"(?: \w+)? (?:anweisung\w*|instruktion\w*|regeln|vorgaben|prompt\w*|systemprompt\w*|"
    r"befehle|richtlinien)\b(?! (?:fur|zu|zum|zur|uber|bei|bezuglich)\b)",
    r"\b(?:wie (?:lautet|lauten)|was (?:sind|waren)|welche sind)\b (?:deine\w*|ihre\w*)(?: \w+)? "
    r"(?:anweisung|instruktion|regeln|vorgaben|prompt|richtlinien)\w*"
    r"(?! (?:fur|zu|zum|zur|uber|bei|bezuglich)\b)",
    r"\b(?:muestra|ensena|dime|revela|repite|dame|escribe|traduce|resume|imprime|lista|enumera|"
    r"copia|cita|comparte|explica|parafrasea|recita|cuales son|cuales eran)\w*\b"
    r"(?: (?:me|todas|todos|exactamente|por favor)){0,3} (?:las |los )?(?:tus|sus|tu|su)(?: \w+)? "
    r"(?:instruccion\w*|reglas|prompt|indicaciones|directrices|normas)\b"
    r"(?! (?:para|sobre|acerca|con)\b| del? (?!sistema\b))",
    r"\b(?:montre|affiche|revele|repete|donne|dis|ecris|traduis|resume|recite|imprime|liste|"
    r"enumere|copie|cite|partage|explique|paraphrase|reformule|quel(?:le)?s? (?:sont|etaient|est))"
    r"(?:z|s)?(?:-(?:moi|nous))?(?: (?:moi|nous|toutes|tous|exactement|stp|svp)){0,3} "
    r"(?:ton|tes|vos|votre)(?: \w+)? "
    r"(?:prompt|instructions|consignes|regles|directives)\b"
    r"(?! (?:pour|sur|concernant|a propos|en matiere)\b| d(?:e |es |u |')(?!systeme\b))",
    r"\b(?:mostra|ripeti|riassumi|traduci|dimmi|elenca|stampa|scrivi|rivela|dammi|copia|cita|"
    r"condividi|spiega|parafrasa|recita|quali sono|quali erano)\w*\b"
    r"(?: (?:mi|tutte|tutti|esattamente|per favore)){0,3} (?:le |i )?(?:tue|tuoi|sue|suoi|vostre|"
    r"vostri)(?: \w+)? (?:istruzioni|regole|direttive|indicazioni|prompt)\b"
    r"(?! (?:per|su|sul|sulla|sulle|riguardo|in merito)\b| d(?:i |el |ella |elle |')(?!sistema\b))",
    r"\b(?:mostre|mostra|repita|repete|resuma|resume|traduza|traduz|diga|diz|liste|lista|imprima|"
    r"escreva|revele|copie|cite|compartilhe|explique|recite|quais (?:sao|eram))\w*\b"
    r"(?: (?:me|todas|todos|exatamente|por favor)){0,3} (?:as |os )?(?:suas|seus|tuas|teus|sua|seu)"
    r"(?: \w+)? (?:instruc\w*|regras|diretrizes|orientac\w*|prompt)\b"
    r"(?! (?:para|sobre|em relacao|com)\b| d(?:e|o|a|os|as) (?!sistema\b))",
    r"\b(?:toon|herhaal|vertaal|geef|noem|schrijf|print|onthul|deel|citeer|kopieer|wat (?:zijn|"
    r"waren))\w*\b(?: (?:me|mij|ons|alle|precies|even|nu)){0,3} (?:je|jouw|uw)(?: \w+)? "
    r"(?:instructies|regels|richtlijnen|opdrachten|prompt|systeemprompt)\b"
    r"(?! (?:voor|over|bij|om|van)\b)",
    r"\b(?:vat|laat (?:me|mij|ons)) (?:je|jouw|uw)(?: \w+)? (?:instructies|regels|richtlijnen|"
    r"opdrachten|prompt)\w* (?:samen|zien)\b",
    r"\b(?:pokaz|podaj|powtorz|stresc|strescz|podsumuj|przet[lł]umacz|wypisz|wyswietl|ujawnij|"
    r"zdradz|napisz|wydrukuj|przepisz|wymien|zacytuj|udostepnij|przekaz|powiedz|wylistuj|wklej|"
    r"skopiuj)\w*\b(?: (?:mi|nam|prosze|dok[lł]adnie|ca[lł]\w*|wszystkie|teraz)){0,3} "
    r"(?:swoi\w*|swoj\w*|swe\w*|twoi\w*|twoj\w*|twe\w*)(?: \w+)? (?:instrukcj|polece|zasad|"
    r"regu[lł]|wytyczn|prompt)\w*(?! (?:dotycz\w*|na temat|w sprawie|do|dla|odnosnie)\b)",
    r"\bjakie (?:sa (?:twoje|swoje|twoi\w*)|masz(?: (?:swoje|twoje))?) (?:instrukcj|polece|zasad|"
    r"regu[lł]|wytyczn|prompt)\w*(?=\s*(?:$|[.?!,;:]))",
    r"\b(?:pokaz|powtorz|przetlumacz|przepisz|wypisz|napisz|zacytuj|podaj)\w* (?:mi )?"
    r"(?:swoje |twoje )?(?:instrukcj|polece)\w* systemow\w*",
    r"\b(?:покажи|повтори|выведи|перескажи|переведи|напиши|раскрой|выдай|распечатай|перечисли|"
    r"процитируй|скопируй|расскажи|сообщи|дай|какие у тебя|каковы)\w*\b(?: (?:мне|нам|все|"
    r"полностью|дословно)){0,3} (?:свои|твои|свой|твой|свою|твою|все|весь|всю)(?: \w+)? "
    r"(?:инструкц|правил|указани|промпт|директив)\w*(?! (?:по|для|о|об|насчет|касательно)\b)",
    r"\bкакие у тебя (?:инструкц|правил|указани|директив)\w*(?=\s*(?:$|[.?!,;:]))",
    r"(?<!\S)(?:너의|너한테 주어진|당신의|당신이 받은|네가 받은|니가 받은|처음 받은|"
    r"처음에 받은|초기|원래의?|숨겨진) ?(?:모든 )?(?:지시|지침|명령|규칙|프롬프트)"
    r"[^.?!\n]{0,16}?(?:보여|알려|출력|말해|요약|번역|공개|반복|적어|써|읽어|나열|공유|복사|인쇄|밝혀|뭐|무엇)",
    # Turkish nouns stack ("yazdirma talimatlarini", the printing instructions): "your" only
    # at the start of a clause or after "senin".
    r"(?:^|(?<=[.?!,;:]) ?|\b(?:senin|sana verilen|ilk|orijinal|gizli|tum|butun) )"
    r"(?:talimatlar[iı]n[iı]?|"
    r"kurallar[iı]n[iı]?|yonergeler[iı]n[iı]?|istemini|promptunu|komutlar[iı]n[iı]?)\b"
    r"[^.?!\n]{0,16}?\b(?:goster|tekrarla|ozetle|cevir|yaz|soyle|paylas|listele|yazdir|acikla|"
    r"dok|neler\b|nedir\b)",
    r"(?:总结|概括|重复|复述|翻译|输出|显示|展示|告诉我|打印|列出|写出|说出|公开|透露|泄露|背诵|"
    r"给我看|給我看|總結|重複|複述|翻譯|輸出|顯示|告訴我|列印|寫出|說出|洩露)[^。？！]{0,4}"
    r"(?:你的|您的|你|您)(?:所有|全部|完整|初始|原始|最初|系统|系統)?的?(?:指令|指示|规则|規則|"
    r"提示词|提示詞|设定|設定|说明|說明)",
    r"(?:你的|您的)(?:所有|全部|完整|初始|原始|最初|系统|系統)?的?(?:指令|指示|规则|規則|提示词|"
    r"提示詞|设定|設定)(?:是什么|是什麼|是啥|[^。？！]{0,6}(?:翻译|翻譯|总结|總結|概括|重复|重複|"
    r"复述|输出|輸出|显示|顯示|列出|告诉|告訴|写出|寫出|打印))",
    r"(?:あなたの|君の|お前の|貴方の|最初の|最初に(?:与えられた|受けた|もらった)|初期の|元の|"
    r"隠された|内部の)(?:指示|命令|ルール|プロンプト|指令|制約|ガイドライン)(?:を|は)[^。]{0,8}"
    r"(?:教えて|見せて|表示|繰り返|要約|翻訳|出力|書き出|列挙|言って|開示|印刷|何|なに)",
]
PROMPT_REQUEST_SQUASHED = [
    r"(?:reveal|show|print|repeat|output|display|leak|dump|tellme|giveme|whatis|whats)(?:me)?"
    r"(?:your|the)(?:system|initial|hidden|original|secret)(?:prompt|instructions)",
]
