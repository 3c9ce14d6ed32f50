from distillery.verify.parse import split_response


def test_paper_format():
    p = split_response("<think>work</think>\n<answer>42</answer>")
    assert (p.think, p.answer, p.problem) == ("work", "42", None)


def test_r1_format_with_and_without_the_opening_tag():
    assert split_response("<think>work</think>\n\nThe answer is 42.").answer == "The answer is 42."
    p = split_response("work, \\boxed{41}?\n</think>\n\nSo \\boxed{42}.")  # <think> was in the prompt
    assert (p.think, p.answer) == ("work, \\boxed{41}?", "So \\boxed{42}.")


def test_missing_parts_are_named():
    assert split_response("").problem == "empty response"
    assert split_response("<think>never closed").problem == "unclosed <think>: no answer"
    assert split_response("<think>x</think>  ").problem == "no answer after the reasoning"
    assert split_response("<think>x</think><answer>42").problem == "unclosed <answer>"
    assert split_response("no tags at all").answer == "no tags at all"
