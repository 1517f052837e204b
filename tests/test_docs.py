"""Every ```python block of README.md and docs/*.md runs here, one test per file.

The blocks of one file run in order in one shared namespace (a module of its own), so a
block may use what an earlier block defined. A block with a top-level ``await`` runs in the
file's event loop; a block without one runs as plain code, so it may call ``asyncio.run``
itself (as a synchronous hypothesis test does). ```bash and other blocks are not run.
A failure names the file and the line where the failing block starts.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import linecache
import re
import sys
import traceback
import types
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
BLOCK_TIMEOUT = 60.0  # seconds; a block that hangs fails instead of hanging the suite

if str(ROOT) not in sys.path:  # the docs import shallot_ws and examples from the checkout
    sys.path.insert(0, str(ROOT))


def python_blocks(text: str) -> list[tuple[int, str]]:
    """The ```python blocks of a Markdown text: (line number of the first code line, code)."""
    blocks: list[tuple[int, str]] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.lstrip()
        if not stripped.startswith("```"):
            index += 1
            continue
        indent = len(line) - len(stripped)
        fence = stripped[: len(stripped) - len(stripped.lstrip("`"))]
        words = stripped[len(fence) :].split()
        start = index + 1
        end = start
        while end < len(lines) and lines[end].strip() != fence:
            end += 1
        if end == len(lines):
            raise ValueError(f"the block opened at line {index + 1} is never closed")
        if words and words[0] == "python":
            body = [code if code[:indent].strip() else code[indent:] for code in lines[start:end]]
            blocks.append((start + 1, "\n".join(body) + "\n"))
        index = end + 1
    return blocks


def doc_files() -> list[Path]:
    files = [ROOT / "README.md"] if (ROOT / "README.md").exists() else []
    return files + sorted((ROOT / "docs").glob("*.md"))


def _current_profile() -> str:
    getter = getattr(settings, "get_current_profile_name", None)
    return getter() if getter is not None else settings._current_profile  # type: ignore[attr-defined]


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


def python_view(blocks: list[tuple[int, str]]) -> list[str]:
    """The page as Python sees a module: each block at its own lines, every other line blank.

    ``inspect.getsource`` parses a class's whole file (hypothesis does it for a state machine
    class), which a Markdown page is not; this view parses, with the same line numbers."""
    lines: list[str] = []
    for line, source in blocks:
        lines.extend("\n" for _ in range(line - 1 - len(lines)))
        lines.extend(source.splitlines(keepends=True))
    return lines


def run_blocks(path: Path, blocks: list[tuple[int, str]]) -> None:
    """Run the blocks of ``path`` in order in one namespace; fail naming the block's line."""
    name = f"docs_{path.stem.replace('-', '_')}"
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    # No mtime: linecache keeps the view (and tracebacks show the same code lines).
    linecache.cache[str(path)] = (0, None, python_view(blocks), str(path))
    profile = _current_profile()  # a doc may load a hypothesis profile of its own
    loop = asyncio.new_event_loop()
    where = path.relative_to(ROOT)
    try:
        for line, source in blocks:
            try:
                tree = ast.parse(source, str(path))
                ast.increment_lineno(tree, line - 1)  # tracebacks point into the .md file
                code = compile(
                    tree, str(path), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
                )
                if code.co_flags & inspect.CO_COROUTINE:
                    coroutine = eval(code, module.__dict__)
                    loop.run_until_complete(asyncio.wait_for(coroutine, BLOCK_TIMEOUT))
                else:
                    exec(code, module.__dict__)
            except Exception as exc:
                details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                pytest.fail(
                    f"{where}: the python block at line {line} failed: {exc!r}\n\n{details}",
                    pytrace=False,
                )
    finally:
        _close_loop(loop)
        del sys.modules[name]
        linecache.cache.pop(str(path), None)
        settings.load_profile(profile)


@pytest.mark.parametrize("path", doc_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_doc_snippets_run(
    path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every python block of the file runs without error (their asserts included). A page
    that reads ``REDIS_URL`` gets a real redis-server, started for it."""
    text = path.read_text(encoding="utf-8")
    blocks = python_blocks(text)
    if not blocks:
        pytest.skip(f"{path.relative_to(ROOT)} has no python blocks")
    if any("REDIS_URL" in source for _, source in blocks):
        monkeypatch.setenv("REDIS_URL", request.getfixturevalue("redis_server").url)
    run_blocks(path, blocks)


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown text (code blocks left out)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    headings = re.findall(r"^#+ (.*)$", text, flags=re.M)
    return {
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings
    }


def broken_anchors(path: Path) -> list[str]:
    """The links of ``path`` to a heading (``page.md#anchor``, ``#anchor``) that is not there."""
    broken = []
    for link, page, anchor in re.findall(r"\]\((([\w./-]*\.md)?#([\w-]+))\)", path.read_text()):
        target = path.parent / page if page else path
        if not target.exists() or anchor not in heading_anchors(target.read_text()):
            broken.append(link)
    return broken


@pytest.mark.parametrize("path", doc_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_link_to_a_heading_finds_it(path: Path) -> None:
    assert broken_anchors(path) == []


def test_a_link_to_a_missing_heading_is_found(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Top\n## 2. A connection's life\n```python\n# not a heading\n```\n"
        "[a](#2-a-connections-life) [b](#not-a-heading) [c](page.md#top) [d](gone.md#top)\n"
    )
    assert broken_anchors(page) == ["#not-a-heading", "gone.md#top"]


def test_python_blocks_are_found_with_their_line_numbers() -> None:
    text = "\n".join(
        [
            "# Title",  # 1
            "```python",  # 2
            "x = 1",  # 3
            "```",  # 4
            "```bash",  # 5
            "hypercorn app:app",  # 6
            "```",  # 7
            "- item",  # 8
            "  ```python",  # 9
            "  y = x + 1",  # 10
            "  ```",  # 11
        ]
    )
    assert python_blocks(text) == [(3, "x = 1\n"), (10, "y = x + 1\n")]


def test_the_python_view_keeps_each_block_at_its_lines() -> None:
    view = python_view([(3, "x = 1\n"), (6, "class A:\n    y = 2\n")])
    assert view == ["\n", "\n", "x = 1\n", "\n", "\n", "class A:\n", "    y = 2\n"]


def test_a_class_defined_in_a_page_has_its_source() -> None:
    page = ROOT / "docs" / "example.md"
    run_blocks(
        page,
        [
            (1, "import inspect\n"),
            (5, "class Machine:\n    pass\n"),
            (9, "assert inspect.getsource(Machine) == 'class Machine:\\n    pass\\n'\n"),
        ],
    )


def test_an_unclosed_block_is_an_error() -> None:
    with pytest.raises(ValueError, match="line 2 is never closed"):
        python_blocks("text\n```python\nx = 1\n")


def test_a_failing_block_names_the_file_and_its_first_line() -> None:
    page = ROOT / "docs" / "example.md"  # only its name is used: nothing is written there
    blocks = [(3, "x = 1\n"), (7, "await asyncio.sleep(0)\n"), (12, "assert x == 2\n")]
    with pytest.raises(pytest.fail.Exception) as caught:
        run_blocks(page, [(1, "import asyncio\n"), *blocks])
    assert str(caught.value).startswith("docs/example.md: the python block at line 12 failed")


def test_blocks_share_a_namespace_and_may_await() -> None:
    page = ROOT / "docs" / "example.md"
    run_blocks(
        page,
        [
            (1, "import asyncio\nasync def double(n):\n    return 2 * n\n"),
            (6, "result = await double(21)\n"),
            (8, "assert result == 42\n"),
        ],
    )


def test_a_profile_loaded_by_a_doc_does_not_outlive_it() -> None:
    before = _current_profile()
    settings.register_profile("test-docs-probe", max_examples=1)
    run_blocks(
        ROOT / "docs" / "example.md",
        [(1, "from hypothesis import settings\nsettings.load_profile('test-docs-probe')\n")],
    )
    assert _current_profile() == before
