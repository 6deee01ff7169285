import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2, "the README should carry runnable examples"
    namespaces = []
    for block in blocks:
        namespace: dict = {}
        exec(compile(block, str(README), "exec"), namespace)
        namespaces.append(namespace)
    api, agent = namespaces[0], namespaces[1]
    assert api["longer"].run == api["result"].run and api["longer"].step == 2
    assert api["returns"].shape == (4,)
    assert agent["actions"].shape == (64, 4, 6)
    assert "'CrippleLeg': {'active': False, 'onset': 300" in capsys.readouterr().out


def test_every_config_and_script_the_readme_and_docs_name_exists():
    root = README.parent
    text = README.read_text() + "".join(p.read_text() for p in (root / "docs").glob("*.md"))
    named = set(re.findall(r"((?:configs|benchmarks)/[\w/.-]+\.(?:yaml|py))", text))
    assert len(named) > 10
    missing = sorted(p for p in named if "{" not in p and not (root / p).is_file())
    assert not missing, f"README or docs/ name files that do not exist: {missing}"


def test_readme_links_to_docs_that_exist():
    root = README.parent
    links = re.findall(r"\]\(((?:docs|results)/[^)#]+)", README.read_text())
    assert "docs/results.md" in links and "docs/guide.md" in links
    assert not [p for p in links if not (root / p).exists()]
