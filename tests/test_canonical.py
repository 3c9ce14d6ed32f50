import hashlib
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from distillery.core.canonical import canonical_text, loose_text, qid, shard_of
from distillery.plan.paths import shard_names

text = st.text(min_size=0, max_size=200)
whitespace = st.sampled_from([" ", "  ", "\t", "\n", "\u00a0", "\u3000", "\r\n"])


def conv(*texts, role="user"):
    return [{"role": role, "content": t} for t in texts]


@given(
    st.lists(st.text(alphabet=st.characters(blacklist_categories=("Zs", "Cc")), min_size=1), min_size=1, max_size=8),
    st.lists(whitespace, min_size=9, max_size=9),
)
def test_qid_ignores_whitespace_layout(words, spaces):
    plain = " ".join(words)
    spaced = spaces[0] + "".join(w + s for w, s in zip(words, spaces[1:], strict=False)) + "\n"
    assert qid(conv(plain)) == qid(conv(spaced))


@given(text)
def test_qid_ignores_unicode_composition(s):
    assert qid(conv(unicodedata.normalize("NFD", s))) == qid(conv(unicodedata.normalize("NFC", s)))


@given(text, text)
def test_qid_separates_different_canonical_content(a, b):
    assert (qid(conv(a)) == qid(conv(b))) == (canonical_text(a) == canonical_text(b))


def test_qid_depends_on_roles_and_turn_boundaries():
    assert qid(conv("hello")) != qid(conv("hello", role="system"))
    assert qid(conv("a b")) != qid(conv("a", "b"))
    assert qid(conv("a", "b")) != qid(conv("b", "a"))


def test_qid_follows_the_documented_definition():
    # Cached generations are keyed by qid: the definition in canonical.py is a contract.
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": " What is\n2 + 2? "}]
    expected = hashlib.blake2b("system\x1fBe brief.\x1euser\x1fWhat is 2 + 2?".encode(), digest_size=16)
    assert qid(messages) == expected.hexdigest()


@given(text)
def test_canonical_text_is_idempotent(s):
    assert canonical_text(canonical_text(s)) == canonical_text(s)


def test_loose_text_folds_case_punctuation_and_tex_spacing():
    assert loose_text("Find  the VALUE of $x$, if x+1=3.") == loose_text("find the value of x if x 1 3")
    assert loose_text("ﬁnd") == "find"  # NFKC ligature


@given(st.text(alphabet="0123456789abcdef", min_size=16, max_size=32), st.integers(1, 64))
def test_shard_of_is_in_range(h, n):
    assert 0 <= shard_of(h.ljust(16, "0"), n) < n


def test_shards_are_balanced_and_named_in_order():
    n = 8
    counts = [0] * n
    for i in range(4000):
        counts[shard_of(qid(conv(f"query {i}")), n)] += 1
    assert min(counts) > 0.8 * 4000 / n and max(counts) < 1.2 * 4000 / n
    assert shard_names(3) == sorted(shard_names(3)) and len(set(shard_names(3))) == 3
