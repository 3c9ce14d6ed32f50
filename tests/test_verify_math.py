import re

import pytest

from conftest import read_jsonl, shared_file
from distillery.verify.math import last_boxed, normalize, verify_math
from distillery.verify.pool import verify_all
from distillery.verify.science import chosen_letter, verify_science


def query(answer, category="math", options=None):
    return {"category": category, "reference": {"answer": answer, "options": options}}


def wrap(answer):
    return f"<think>Let me work it out.</think><answer>The final answer is \\boxed{{{answer}}}.</answer>"


EQUIVALENT = [
    ("\\frac12", "0.5"),
    ("\\frac12", "1/2"),
    ("\\frac{1}{2}", "\\dfrac{1}{2}"),
    ("10\\%", "10"),
    ("10\\%", "0.1"),
    ("\\{1, 2\\}", "\\{2, 1\\}"),
    ("(0, 1]", "(0,1]"),
    ("2\\sqrt{3}", "\\sqrt{12}"),
    ("\\frac13", "0.3333333"),
    ("x^2+2x+1", "(x+1)^2"),
    ("3", "3.0"),
    ("\\pi/2", "\\frac{\\pi}{2}"),
    ("6", "2\\cdot 3"),
    ("x=3", "3"),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}"),
    # forms math-verify misreads unless normalised
    ("6+9i", "6 + 9 i"),
    ("6+9i", "6+9\\,i"),
    ("6+9i", "6+9\\cdot i"),
    ("6 - 5i", "6-5\\;i"),
    ("\\frac13", "0.\\overline{3}"),
    ("\\frac16", "0.1\\overline{6}"),
    ("\\frac{14}{11}", "1.\\overline{27}"),
    ("1.\\overline{27}", "\\frac{14}{11}"),
    ("30^\\circ", "30°"),
    ("30°", "30"),
    ("10,\\!080", "10\\,080"),
    ("11,\\! 111,\\! 100", "11111100"),
    ("\\sin x", "\\sin\\,x"),
    # textual references
    ("\\text{(C)}", "C"),
    ("\\text{(C)}", "\\textbf{(C)}"),
    ("\\text{Evelyn}", "Evelyn"),
    ("\\text{Monday}", "\\emph{Monday.}"),
    ("\\text{no solution}", "\\text{No  solution}"),
]
DIFFERENT = [
    ("3", "4"),
    ("(0, 1]", "[0, 1]"),
    ("\\frac12", "0.51"),
    ("\\{1, 2\\}", "\\{1, 3\\}"),
    ("x+1", "x-1"),
    ("6+9i", "6+8i"),
    ("6+9i", "6 + 8 i"),
    ("\\frac13", "0.\\overline{4}"),
    ("\\frac13", "0.3"),
    ("30^\\circ", "31°"),
    ("7", "2\\cdot 3"),
    ("x=3", "x=4"),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}1\\\\3\\end{pmatrix}"),
    ("1200", "1,\\; 200"),  # a pair, to math-verify ("1,200" would be 1200)
    ("\\text{(C)}", "B"),
    ("\\text{(C)}", "\\text{(B)}"),
    ("5", "x"),
    ("5", "6 \\text{ apples}"),  # math-verify drops the unit: a number, decided
]
# math-verify reads no expression (a bare string), or reads words as symbols: left to a judge.
UNDECIDED = [
    ("5", "\\text{five apples}"),
    ("5", "five"),
    ("5", "\\emph{five}"),
    ("5", "\\hbox{5}"),
    ("10", "\\text{6 apples}"),
    ("\\text{Monday}", "\\text{Tuesday}"),
    ("\\text{even}", "odd"),
]


@pytest.mark.parametrize("reference,answer", EQUIVALENT)
def test_equivalent_forms_pass(reference, answer):
    result = verify_math(query(reference), wrap(answer))
    assert result.score == 1.0 and "==" in result.detail


@pytest.mark.parametrize("reference,answer", DIFFERENT)
def test_different_values_fail(reference, answer):
    result = verify_math(query(reference), wrap(answer))
    assert result.score == 0.0 and result.scorable and not result.undecided and "!=" in result.detail


@pytest.mark.parametrize("reference,answer", UNDECIDED)
def test_answers_math_verify_cannot_read_are_undecided(reference, answer):
    result = verify_math(query(reference), wrap(answer))
    assert (result.score, result.scorable, result.undecided) == (0.0, True, True)
    assert "does not parse" in result.detail


@pytest.mark.parametrize(
    "expression,normalized",
    [
        ("0.\\overline{3}", "\\frac{1}{3}"),
        ("-2.5\\bar3", "-\\frac{38}{15}"),
        ("6 + 9 i", "6 + 9i"),
        ("2\\cdot i", "2i"),
        ("\\sin\\, x", "\\sin x"),
        ("30 °C", "30^{\\circ}C"),
        # left alone: a product of numbers, i not after a number, a line break, spacing after a comma
        ("2\\cdot 3", "2\\cdot 3"),
        ("\\pi i + 3in", "\\pi i + 3in"),
        ("\\begin{pmatrix}1\\\\ 2\\end{pmatrix}", "\\begin{pmatrix}1\\\\ 2\\end{pmatrix}"),
        ("1,\\; 200", "1,\\; 200"),
    ],
)
def test_normalization_is_conservative(expression, normalized):
    assert normalize(expression) == normalized


@pytest.mark.parametrize(
    "response,reason",
    [
        ("", "empty response"),
        ("<think>the answer is \\boxed{5}</think><answer>I am not sure.</answer>", "no \\boxed{}"),
        ("<think>x</think><answer>\\boxed{5</answer>", "unclosed \\boxed"),
        ("<think>never finished", "unclosed <think>"),
        ("<think>x</think><answer>\\boxed{}</answer>", "empty \\boxed"),
    ],
)
def test_bad_responses_score_zero_with_a_reason(response, reason):
    result = verify_math(query("5"), response)
    assert result.score == 0.0 and reason in result.detail


def test_only_the_answer_part_and_its_last_box_count():
    assert verify_math(query("7"), "<think>\\boxed{7}</think>\\boxed{3} then \\boxed{7}").score == 1.0  # R1 style
    assert verify_math(query("7"), "<think>\\boxed{7}</think><answer>\\boxed{3}</answer>").score == 0.0
    assert last_boxed("\\boxed{\\frac{1}{2}} and \\boxed{x^{2}}") == ("x^{2}", None)


def test_unparsable_reference_is_unscorable_not_a_failure():
    result = verify_math(query("\\\\"), wrap("3"))  # math-verify finds nothing in a bare line break
    assert not result.scorable and "reference" in result.detail
    assert not verify_math(query(None), wrap("3")).scorable


REFORMATS = [
    lambda a: re.sub(r"(\d)i\b", r"\1\\,i", a.replace("\\frac", "\\dfrac").replace("^\\circ", "°")),
    lambda a: re.sub(r"\\(?:text|mbox){([^{}]*)}", r"\1", re.sub(r"(\d)i\b", r"\1 \\cdot i", a)),
    lambda a: re.sub(r"(?<=\d),\\! ?(?=\d{3})", r"\\,", a.replace("\\text{", "\\textbf{")),
]


@pytest.mark.realdata
def test_real_benchmark_references_verify_against_themselves_and_not_others(capsys):
    rows = [(f"math500/{r['id']}", r["answer"]) for r in read_jsonl(shared_file("math500.jsonl"))]
    rows += [(f"aime2024/{r['id']}", str(r["answer"])) for r in read_jsonl(shared_file("aime2024.jsonl"))]
    rows += [(f"aime2025/{r['id']}", str(r["answer"])) for r in read_jsonl(shared_file("aime2025.jsonl"))]
    queries = [query(a) for _, a in rows]
    own = verify_all(queries, [wrap(a) for _, a in rows], processes=2)
    failures = [(rid, a, r.detail) for (rid, a), r in zip(rows, own, strict=True) if r.score != 1.0]
    reformatted = []  # the same answers as a model might write them
    for reformat in REFORMATS:
        changed = [(i, reformat(a)) for i, (_, a) in enumerate(rows) if reformat(a) != a]
        again = verify_all([queries[i] for i, _ in changed], [wrap(a) for _, a in changed], processes=2)
        reformatted += [(rows[i][0], a, r) for (i, a), r in zip(changed, again, strict=True)]
    failures += [(rid, a, r.detail) for rid, a, r in reformatted if r.score != 1.0]
    shifted = verify_all(queries, [wrap(rows[(i + 1) % len(rows)][1]) for i in range(len(rows))], processes=2)
    collisions = [(rows[i][0], rows[i][1], rows[(i + 1) % len(rows)][1]) for i, r in enumerate(shifted) if r.score]
    with capsys.disabled():
        print(
            f"\n[math-verify] {len(rows)} references, {len(reformatted)} reformatted: {len(failures)} fail; "
            f"shifted answers: {len(collisions)} collisions {collisions}"
        )
    assert not failures, failures
    # A collision is two neighbouring problems whose answers are really equal (checked by hand: same value).
    assert len(collisions) <= 0.02 * len(rows)


def test_science_multiple_choice_and_free_answers():
    mcq = query("B", "science", options=["1 m", "2 m", "3 m", "4 m"])
    assert verify_science(mcq, "<think>hmm</think><answer>The answer is (B).</answer>").score == 1.0
    assert verify_science(mcq, "<think>B?</think><answer>\\boxed{C}</answer>").score == 0.0
    assert verify_science(mcq, "<think>x</think><answer>No idea.</answer>").detail == "no choice letter in the answer"
    assert verify_science(query("9.8", "science"), wrap("9.80")).score == 1.0
    assert chosen_letter("the answer is a good one", 4) is None


def test_science_reference_given_as_option_text():
    q = query("Neon", "science", options=["Nitrogen", "Neon", "Oxygen"])
    assert verify_science(q, "<think>x</think><answer>(B)</answer>").score == 1.0
    assert not verify_science(query("Argon", "science", options=["Nitrogen", "Neon"]), "<answer>A</answer>").scorable
