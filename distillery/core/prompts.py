"""What a teacher is sent: the paper's system prompt, optional few-shot turns, then the query.

The paper asks every teacher for ``<think> … </think> <answer> … </answer>`` and math answers in
``\\boxed{}``; verifiers score the answer part only (``distillery.verify.parse``). Strong teachers follow
the system prompt alone; a small base model (the offline Gemma 3 270M) needs one worked example of the
shape, so the examples below are short and cover each category's answer convention.
"""

from __future__ import annotations

SYSTEM_PROMPT = (
    "You are a helpful assistant. To answer the user's question, you first think about the reasoning process "
    "and then provide the user with the answer. The reasoning process and answer are enclosed within "
    "<think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning process here "
    "</think> <answer> answer here </answer>."
)
MATH_SUFFIX = "Let's think step by step and output the final answer within \\boxed{}."
STOP = ("</answer>",)  # nothing useful follows the answer; base models otherwise ramble on


def _with_math_suffix(text: str) -> str:
    return text if text.rstrip().endswith(MATH_SUFFIX) else f"{text.rstrip()}\n\n{MATH_SUFFIX}"


def _pair(user: str, assistant: str) -> list[dict]:
    return [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]


def _code_pair(task: str, name: str, args: str, returns: str, think: str, body: str) -> list[dict]:
    """A LeetCode-style task with its starter code, answered by the filled-in method."""
    head = f"class Solution:\n    def {name}(self, {args}) -> {returns}:"
    return _pair(
        f"{task}\n\n```python\n{head}\n```",
        f"<think> {think} </think> <answer> ```python\n{head}\n        {body}\n``` </answer>",
    )


# User/assistant pairs per category, in the shape the category's verifier reads. The 270M model copies
# the last example closely, so math and code have several, each as short as the answer it shows.
FEW_SHOT: dict[str, list[dict]] = {
    "math": [
        *_pair(_with_math_suffix("What is 3 + 4?"), "<think> 3 + 4 = 7. </think> <answer> \\boxed{7} </answer>"),
        *_pair(
            _with_math_suffix("A bag holds 5 pears. How many pears are in 3 such bags?"),
            "<think> 3 bags of 5 pears: 3 × 5 = 15. </think> <answer> \\boxed{15} </answer>",
        ),
        *_pair(
            _with_math_suffix("Ann has 9 stickers and gives away 4. How many stickers does she have left?"),
            "<think> She gives 4 of her 9 away: 9 - 4 = 5. </think> <answer> \\boxed{5} </answer>",
        ),
    ],
    "code": [
        *_code_pair(
            "Given a list of integers nums, return the sum of its even numbers.",
            "sumEven",
            "nums: List[int]",
            "int",
            "Add up the numbers divisible by 2.",
            "return sum(x for x in nums if x % 2 == 0)",
        ),
        *_code_pair(
            "Given a list of integers nums, return its smallest number. The list is never empty.",
            "smallest",
            "nums: List[int]",
            "int",
            "min gives the smallest number.",
            "return min(nums)",
        ),
        *_code_pair(
            "Given a string s, return it in upper case.",
            "upper",
            "s: str",
            "str",
            "str.upper changes every letter.",
            "return s.upper()",
        ),
    ],
    "science": _pair(
        "Which gas do plants take in from the air for photosynthesis?\n\n"
        "A. Oxygen\nB. Nitrogen\nC. Carbon dioxide\nD. Helium",
        "<think> Photosynthesis turns carbon dioxide and water into sugar and oxygen, so plants take in carbon "
        "dioxide. </think> <answer> The answer is (C) </answer>",
    ),
    "if": [
        *_pair(
            "Write a short thank-you note to a teacher. Your entire response should be in English, and in all "
            "capital letters.",
            "<think> A short note, every letter a capital. </think> <answer> THANK YOU FOR "
            "YOUR PATIENCE AND FOR MAKING EVERY LESSON FUN. </answer>",
        ),
        *_pair(
            "Wrap your entire response with double quotation marks. What would you tell someone on a rainy day?",
            '<think> A kind sentence, inside double quotation marks. </think> <answer> "Rain does not last forever: '
            'take an umbrella and enjoy the sound of it." </answer>',
        ),
        *_pair(
            "Write a one-sentence slogan for a bicycle shop. Use only lowercase letters.",
            "<think> One sentence about bicycles, with no capital letters anywhere. </think> <answer> ride further "
            "and smile wider on our bikes. </answer>",
        ),
    ],
    "chat": _pair(
        "How can I remember people's names when I meet them?",
        "<think> Give a few practical habits: repeat the name, link it to an image, use it again. </think> "
        '<answer> Say the name back at once ("Nice to meet you, Sam"), link it to a picture or to someone you '
        "know with the same name, and use it once more when you say goodbye. </answer>",
    ),
    "general": _pair(
        "A train leaves at 2:40 pm and the trip takes 95 minutes. When does it arrive?",
        "<think> 95 minutes is 1 hour 35 minutes. 2:40 pm plus 1 hour is 3:40 pm, plus 35 minutes is 4:15 pm. "
        "</think> <answer> It arrives at 4:15 pm. </answer>",
    ),
}


def build_messages(
    query: dict, system_prompt: str | None = SYSTEM_PROMPT, few_shot: list[dict] | None = None
) -> list[dict]:
    """The conversation for one query (``schema.QUERY`` row): system prompt, few-shot turns, then the
    query's own turns; a math query's last user turn gets :data:`MATH_SUFFIX`.

    A query's own system message is kept, after the paper's prompt in the single system message (chat
    templates such as Gemma's accept only one, first). ``few_shot`` is alternating user/assistant
    messages, e.g. ``FEW_SHOT[query["category"]]``."""
    turns = [{"role": m["role"], "content": m["content"]} for m in query["messages"]]
    systems = [m["content"] for m in turns if m["role"] == "system"]
    turns = [m for m in turns if m["role"] != "system"]
    if not turns or turns[-1]["role"] != "user":
        raise ValueError("a query must end with a user turn")
    if query.get("category") == "math":
        turns[-1]["content"] = _with_math_suffix(turns[-1]["content"])
    system = "\n\n".join(s for s in [system_prompt, *systems] if s)
    head = [{"role": "system", "content": system}] if system else []
    examples = [{"role": m["role"], "content": m["content"]} for m in few_shot or []]
    if [m["role"] for m in examples] != ["user", "assistant"] * (len(examples) // 2):
        raise ValueError("few_shot must be user/assistant pairs")
    return head + examples + turns
