"""Errors: a bad scenario raises ScenarioError with the file, line and column of the
problem, and str(e) is what the command line prints."""

import subprocess

import pytest

import pricegrad


def bad_tupperware(root) -> str:
    text = (root / "scenarios" / "tupperware.toml").read_text()
    assert text.count("step = 0.5") == 1
    return text.replace("step = 0.5", "step = -0.5")


def test_a_bad_toml_string_names_its_line_and_column(root):
    text = bad_tupperware(root)
    with pytest.raises(pricegrad.ScenarioError) as info:
        pricegrad.run(text)
    e = info.value
    # where "-0.5" is, counted here
    lines = text.split("\n")
    line = next(i for i, l in enumerate(lines) if l.startswith("step = -0.5")) + 1
    column = lines[line - 1].index("-0.5") + 1
    assert (e.file, e.line, e.column) == ("<string>", line, column)
    assert "market.step" in e.message and "-0.5" in e.message
    assert e.help and e.set is None
    assert len(e.problems) == 1 and e.problems[0].line == line
    assert isinstance(e, ValueError)


def test_str_is_what_the_command_line_prints(root, cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(bad_tupperware(root))
    cmd = subprocess.run([str(cli), "check", str(bad)], capture_output=True, text=True)
    assert cmd.returncode == 2
    with pytest.raises(pricegrad.ScenarioError) as info:
        pricegrad.check(bad)
    assert str(info.value) == cmd.stderr
    assert info.value.file == str(bad)


def test_a_syntax_error_in_a_string(root):
    text = "name = \"x\"\n[goods.a\nprice = 1\n"
    with pytest.raises(pricegrad.ScenarioError) as info:
        pricegrad.check(text)
    e = info.value
    assert (e.file, e.line) == ("<string>", 2)
    assert str(e).startswith("error: ")


def test_a_bad_set_names_the_argument():
    with pytest.raises(pricegrad.ScenarioError) as info:
        pricegrad.check("scenarios/tupperware.toml", set={"market.stepp": 0.2})
    e = info.value
    assert e.set == "market.stepp=0.2" and e.line is None and e.column is None
    assert "did you mean 'market.step'" in e.message
    assert "(from --set market.stepp=0.2)" in str(e)


def test_a_dict_error_points_into_its_toml():
    d = {
        "name": "chain",
        "goods": {"a": {"endowment": 1.0}, "b": {"price": 1.0}},
        "firms": [{"name": "F", "output": "b", "production": "sqrt(aa)"}],
    }
    with pytest.raises(pricegrad.ScenarioError) as info:
        pricegrad.check(d)
    e = info.value
    toml = pricegrad.to_toml(d)
    assert e.file == "<dict>"
    assert toml.split("\n")[e.line - 1].startswith('production = "sqrt(aa)"')
    assert "aa" in e.message


def test_none_in_a_dict_is_refused_with_its_place():
    with pytest.raises(TypeError, match=r'scenario\["goods"\]\["a"\]\["price"\] is None'):
        pricegrad.to_toml({"goods": {"a": {"price": None}}})


def test_a_missing_file():
    with pytest.raises(pricegrad.ScenarioError) as info:
        pricegrad.run("no/such/scenario.toml")
    assert info.value.file == "no/such/scenario.toml" and info.value.line is None


def test_an_unusable_out_is_an_output_error(tmp_path):
    f = tmp_path / "a-file"
    f.write_text("x")
    with pytest.raises(pricegrad.OutputError) as info:
        pricegrad.run("scenarios/tupperware.toml", out=f)
    assert isinstance(info.value, OSError)
    assert str(info.value).startswith(f"error: the output path {f} is a file")
    assert "\n  = help: " in str(info.value)


def test_zero_threads_is_a_usage_error():
    with pytest.raises(pricegrad.UsageError):
        pricegrad.check("scenarios/tupperware.toml", threads=0)


def test_a_sweep_of_a_bad_string_names_the_string(root):
    text = bad_tupperware(root)
    with pytest.raises(pricegrad.ScenarioError) as info:
        pricegrad.sweep(text, params={"agents.rate": [0.1, 0.2]})
    e = info.value
    line = next(i for i, l in enumerate(text.split("\n")) if l.startswith("step = -0.5")) + 1
    assert (e.file, e.line) == ("<string>", line)
    assert f"--> <string>:{line}:" in str(e) and "pricegrad-sweep-" not in str(e)


def test_a_parquet_table_problem_names_its_row_and_column(cli, tmp_path):
    # the tables of a small generated economy, one input good misspelled
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "t"
    subprocess.run(
        [str(cli), "generate", "--layers", "2", "--width", "3", "--inputs", "2", "--seed", "1",
         "--format", "tables", "--tables-format", "parquet", "--out", str(out)],
        check=True, capture_output=True,
    )
    inputs = pq.read_table(out / "inputs.parquet").to_pydict()
    bad = inputs["good"][2]
    inputs["good"][2] = bad + "x"
    import pyarrow as pa

    pq.write_table(pa.table(inputs), out / "inputs.parquet")
    with pytest.raises(pricegrad.ScenarioError) as info:
        pricegrad.check(out / "scenario.toml")
    e = info.value
    assert f"unknown good '{bad}x'" in e.message
    # a Parquet file has rows, not lines: the third data row, at its `good` column
    assert (e.file, e.row, e.line, e.column) == ("inputs.parquet", 3, None, "good")
    assert "inputs.parquet, row 3, column `good`" in str(e)
