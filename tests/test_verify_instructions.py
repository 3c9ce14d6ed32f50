"""IFEval verifier: real IFEval prompts with hand-written answers that do and do not comply."""

import json
import os
from pathlib import Path

import langdetect
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from distillery.verify.instructions import punkt_data_dir, verify_instructions  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
IF_QUERIES = REPO.parent / "shared/data/if_queries.jsonl"
TOY_QUERIES = REPO / "data/queries/if.jsonl"


def to_query(row: dict) -> dict:
    """An IFEval record in our query schema: kwargs as a JSON string without null values."""
    kwargs = [{k: v for k, v in d.items() if v is not None} for d in row["kwargs"]]
    return {
        "qid": f"ifeval-{row['key']}",
        "category": "if",
        "messages": [{"role": "user", "content": row["prompt"]}],
        "reference": {"instruction_id_list": row["instruction_id_list"], "kwargs": json.dumps(kwargs)},
    }


def load(path: Path) -> dict[int, dict]:
    with open(path, encoding="utf-8") as f:
        return {row["key"]: to_query(row) for row in map(json.loads, filter(str.strip, f))}


@pytest.fixture(scope="module")
def ifeval():
    if not IF_QUERIES.exists():
        pytest.skip(f"{IF_QUERIES} is absent (real IFEval prompts live in ../shared/data, outside the repo)")
    return load(IF_QUERIES)


@pytest.fixture(scope="module")
def toy():
    return load(TOY_QUERIES)


TEN_SENTENCES = " ".join(f"Step {n} is to check the hull again." for n in range(1, 11))

# key: (instruction checked, a compliant answer, a non-compliant answer)
CASES = {
    32: (
        "punctuation:no_comma",
        "A writer sat down with a pen\nTo rhyme about rhyming again\nHe counted each beat\n"
        "Till the lines were complete\nThen started the whole thing again.",
        "A writer sat down with a pen,\nTo rhyme about rhyming again.",
    ),
    2780: (
        "length_constraints:number_sentences",
        "I cannot see live timetables. Trains to London usually leave every half hour. "
        "Please check the National Rail website for the next one.",
        "I cannot see live timetables. Trains leave often. Mr. Jones checks them daily. "
        "The station has a board. The board shows times. Ask the staff. They know the times.",
    ),
    281: (
        "startend:quotation",
        '"Why did the XML file break up with the HTML file? It said: you never close your tags."',
        "Why did the XML file break up with the HTML file? It never closed its tags.",
    ),
    301: (
        "keywords:forbidden_words",
        "Start on a flat path, push off with one foot, keep pedalling and look ahead, not down.",
        "Ride it like a kid would: go slow at first and keep pedalling.",
    ),
    1322: (
        "detectable_format:title",
        "<<Kotlin versus Java>>\nKotlin is concise and null-safe; Java has a larger ecosystem.",
        "Kotlin versus Java\nKotlin is concise and null-safe; Java has a larger ecosystem.",
    ),
    202: (
        "change_case:english_lowercase",
        "another word for engravings is etchings, or carvings in a more general sense.",
        "Another word for Engravings is etchings.",
    ),
    3754: (
        "detectable_format:constrained_response",
        "Winning is not transitive in pool, so there is no way to know. My answer is maybe.",
        "Probably, since Bob seems to be the strongest player of the three.",
    ),
    1733: (
        "keywords:frequency",
        "The princess asked the dragon for help. The dragon replied with a roar. "
        "When she asked again, he replied that he only wanted a friend.",
        "The princess asked the dragon for help, and the dragon roared in answer.",
    ),
    3682: (
        "language:response_language",
        "Google, Facebook, Microsoft, Apple und Amazon geben jedes Jahr viele Millionen Dollar für "
        "Lobbyarbeit in Washington aus. Facebook und Amazon haben ihre Ausgaben in den letzten Jahren "
        "stark erhöht, während Apple deutlich weniger ausgibt als die anderen Unternehmen.",
        "Google, Facebook, Microsoft, Apple and Amazon each spend many millions of dollars a year on "
        "lobbying in Washington, and Facebook and Amazon have raised their spending the most.",
    ),
    1592: (
        "change_case:capital_word_frequency",
        "Researchers from Stanford and Berkeley found that the US can reach 100% RENEWABLE energy by "
        "2050 with more SOLAR and WIND farms. Such a grid would also be more robust.",
        "Researchers from Stanford and Berkeley found that the country can reach fully renewable "
        "energy by 2050 with more solar and wind farms.",
    ),
    3563: (
        "combination:repeat_prompt",
        "What is the name of the actor who played Gandalf in Lord of the Rings?\nIan McKellen.",
        "Ian McKellen played Gandalf.",
    ),
    1858: (
        "length_constraints:number_paragraphs",
        "Stop it.\n***\nOne plus one is two.\n***\nCount your fingers.\n***\nGoodbye.",
        "Stop it.\n***\nOne plus one is two.\n***\nGoodbye.",
    ),
    1094: (
        "detectable_format:json_format",
        '```json\n{"moms": ["Marge Simpson", "Molly Weasley", "Lorelai Gilmore", "Morticia Addams", '
        '"Kris Jenner"]}\n```',
        "Here are five moms: Marge Simpson, Molly Weasley, Lorelai Gilmore, Morticia Addams, Kris Jenner.",
    ),
    1620: (
        "detectable_content:postscript",
        "Hi Luheng,\nYou should listen to Lilith: it is wonderful.\nBest\nP.S. Start with track three.",
        "Hi Luheng,\nYou should listen to Lilith: it is wonderful.\nBest",
    ),
    102: (
        "detectable_format:number_bullet_lists",
        "* Gown: Are you ready?\n* Sweats: Always.\n* Gown: Then let us go.",
        "* Gown: Are you ready?\n* Sweats: Always.",
    ),
}


@pytest.mark.realdata
@pytest.mark.parametrize("key", sorted(CASES))
def test_compliant_scores_one_and_non_compliant_less(ifeval, key):
    instruction_id, good, bad = CASES[key]
    query = ifeval[key]
    assert json.loads(query["reference"]["kwargs"]) is not None
    assert query["reference"]["instruction_id_list"] == [instruction_id]
    ok = verify_instructions(query, good)
    assert (ok.score, ok.passed, ok.scorable, ok.verifier) == (1.0, True, True, "if"), ok.detail
    miss = verify_instructions(query, bad)
    assert miss.score < 1.0 and not miss.passed and miss.scorable
    assert instruction_id in miss.detail


def test_case_table_covers_many_instruction_types():
    assert len({instruction_id for instruction_id, _, _ in CASES.values()}) >= 8


@pytest.mark.realdata
def test_one_of_two_failed_scores_half(ifeval):
    query = ifeval[286]  # end with "That is all you need!" and use less than 10 sentences
    both = verify_instructions(query, "Patch the craters with steel plates. Then weld them. That is all you need!")
    assert both.score == 1.0
    too_long = verify_instructions(query, TEN_SENTENCES + " That is all you need!")
    assert too_long.score == 0.5 and not too_long.passed
    assert "length_constraints:number_sentences" in too_long.detail
    assert "startend:end_checker" not in too_long.detail


@pytest.mark.realdata
def test_repeat_prompt_uses_the_prompt_to_repeat(ifeval):
    query = ifeval[3563]
    prompt = query["messages"][0]["content"]
    assert verify_instructions(query, prompt + "\nIan McKellen.").score == 1.0  # full prompt starts the same


@pytest.mark.realdata
def test_language_detection_is_deterministic(ifeval):
    """Unseeded, langdetect calls this text German about two times in three and Dutch otherwise."""
    query = ifeval[3682]  # German only
    mixed = "Google und Amazon spend viel Geld on Lobbyarbeit."
    scores = {verify_instructions(query, mixed).score for _ in range(25)}
    assert len(scores) == 1
    assert langdetect.DetectorFactory.seed == 0


def test_toy_queries(toy):
    title_speech = (
        "<<A Toast to Mr. Okafor>>\nFor thirty years you made chemistry feel like magic.\n***\n"
        "Enjoy your retirement. Thank you for everything."
    )
    assert verify_instructions(toy[9015], title_speech).score == 1.0
    no_divider = "<<A Toast>>\nFor thirty years you made chemistry feel like magic. Enjoy it."
    assert verify_instructions(toy[9015], no_divider).score == pytest.approx(1 / 3)

    shouting = "GO GET THAT FINISH LINE! WE BELIEVE IN YOU!"
    assert verify_instructions(toy[9011], shouting).score == 1.0
    assert verify_instructions(toy[9011], "Go get that finish line! We believe in you!").score == 0.5

    bullets = (
        "* a tent that keeps out the rain\n* a warm sleeping bag for the cold nights\n"
        "* a small stove with enough fuel\n* a filter for the water from the stream\n"
        "* a jacket for the wind on the ridge"
    )
    assert verify_instructions(toy[9014], bullets).score == 1.0
    assert verify_instructions(toy[9014], bullets.upper()).score == pytest.approx(2 / 3)

    assert all(verify_instructions(q, "ok").scorable for q in toy.values())


def test_toy_number_sentences_needs_punkt(toy):
    query = dict(toy[9001])
    query["reference"] = {
        "instruction_id_list": ["length_constraints:number_sentences"],
        "kwargs": json.dumps([{"relation": "at least", "num_sentences": 3}]),
    }
    assert verify_instructions(query, "Dr. Smith uses it daily. It is light. It keeps water cold.").score == 1.0
    # Punkt knows "Dr." is an abbreviation, so this is two sentences, not three.
    assert verify_instructions(query, "Ask Dr. Smith about it. It is light.").score == 0.0
    assert (punkt_data_dir() / "tokenizers/punkt_tab/english/abbrev_types.txt").is_file()


def test_empty_response_scores_zero_with_reason(toy):
    for response in ("", "   \n", None):
        result = verify_instructions(toy[9003], response)
        assert (result.score, result.passed, result.scorable) == (0.0, False, True)
        assert "empty" in result.detail


def test_think_is_ignored(toy):
    query = toy[9003]  # all lowercase
    response = "<think>The User wants A poem, so Let Me write one.</think>\nrain taps the window\nleaves let go"
    assert verify_instructions(query, response).score == 1.0
    unclosed = verify_instructions(query, "<think>rain taps the window")
    assert unclosed.score == 0.0 and "unclosed" in unclosed.detail


def test_unknown_instruction_is_unscorable(toy):
    query = dict(toy[9003])
    query["reference"] = {
        "instruction_id_list": ["change_case:english_lowercase", "made_up:instruction"],
        "kwargs": json.dumps([{}, {}]),
    }
    result = verify_instructions(query, "hello")
    assert not result.scorable and result.score == 0.0
    assert "made_up:instruction" in result.detail


@pytest.mark.realdata
def test_random_checker_arguments_are_unscorable(ifeval):
    """IFEval's key 1122 asks for the letter "#"; the checker would count a random letter instead."""
    result = verify_instructions(ifeval[1122], "#a #b #c #d")
    assert not result.scorable and "keywords:letter_frequency" in result.detail
    assert sum(not verify_instructions(q, "ok").scorable for q in ifeval.values()) == 1


def test_malformed_reference_is_unscorable(toy):
    query = dict(toy[9011])
    for reference in (
        {"instruction_id_list": ["change_case:english_capital", "length_constraints:number_words"], "kwargs": "[{}]"},
        {"instruction_id_list": ["length_constraints:number_words"], "kwargs": "not json"},
        {"instruction_id_list": ["length_constraints:number_words"], "kwargs": "[{}]"},  # would be random
        {"instruction_id_list": []},
    ):
        query["reference"] = reference
        assert not verify_instructions(query, "HELLO").scorable, reference
