"""Questions for choosing and checking the gap grouping's distance threshold
(insights/gaps.py, GROUPING_DISTANCE). Written before any threshold was tried.

Each set is a list of topics; each topic a list of questions a customer might ask about
it, paraphrased. The topics are things the demo KB does not answer (knowledge/demo_kb),
as a content gap would be, plus some lone questions that must stay on their own.

TUNING chose the threshold; HELD_OUT was not looked at while choosing, and measures it
(insights/tests/test_gaps.py).
"""

TUNING: list[list[str]] = [
    [
        "Can I pay with PayPal?",
        "Do you accept PayPal payments?",
        "Is PayPal a supported payment option?",
        "how do i use paypal to pay for my subscription",
    ],
    [
        "Is there a dark mode?",
        "How do I switch the app to a dark theme?",
        "can you make the interface dark, it hurts my eyes at night",
        "Dark mode setting?",
    ],
    [
        "Do you have an office in Berlin I can visit?",
        "Where is your physical office located?",
        "What is the address of your headquarters?",
    ],
    [
        "Can I use the product offline on a plane?",
        "Does the app work without an internet connection?",
        "offline mode available?",
    ],
    [
        "Do you offer a discount for students?",
        "Is there student pricing?",
        "I'm a student, can I get the plan cheaper?",
    ],
    ["Can I print a calendar view of my tasks?"],
    ["Are you hiring software engineers?"],
    ["Does the app integrate with Slack?"],
    ["What's the maximum file size for attachments?"],
]

HELD_OUT: list[list[str]] = [
    [
        "Can I change the language of the interface to Spanish?",
        "Is the app available in German?",
        "How do I switch the UI language?",
        "do you support french translation of the app",
    ],
    [
        "Do you have a Linux desktop client?",
        "Is there a version of the desktop app for Ubuntu?",
        "can I install the desktop application on linux",
    ],
    [
        "Do you offer discounts for non-profit organisations?",
        "Is there a charity discount?",
        "We are a nonprofit, do you have special pricing for us?",
    ],
    [
        "Can I schedule a message to be sent later?",
        "How do I send a message at a specific time in the future?",
        "is there a way to delay sending a message until tomorrow morning",
    ],
    ["Is there a public roadmap of upcoming features?"],
    ["Can I change the colour of my profile banner?"],
    ["Does the product run on a Raspberry Pi?"],
    ["Who founded the company?"],
]
