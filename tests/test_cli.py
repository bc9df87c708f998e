import csv

import pytest
from typer.testing import CliRunner

from chemloop.cli import app

runner = CliRunner()


@pytest.mark.parametrize("command", [[], ["sample"], ["pretrain"], ["bench", "moses"], ["bench", "sampling"]])
def test_every_command_has_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


@pytest.mark.parametrize(
    ("command", "table"),
    [
        (["optimize"], "[run]"),
        (["bench", "pmo"], "[run]"),
        (["bench", "campaign"], "[campaign]"),
        (["campaign", "init"], "[[score.components]]"),
    ],
)
def test_help_shows_toml_table_names(command, table, monkeypatch):
    """Rich would read [run] as a markup tag and drop it; the help must name the table."""
    monkeypatch.setenv("COLUMNS", "200")
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert table in result.output


def test_user_errors_print_bracketed_text_as_written(capsys):
    """An error naming ``chemloop[ray]`` or ``[x, y, z]`` must not lose them to rich markup."""
    import typer

    from chemloop.cli_common import user_errors
    from chemloop.errors import ChemloopError

    @user_errors
    def failing():
        raise ChemloopError("box must be [x, y, z]; pip install 'chemloop[ray]'")

    with pytest.raises(typer.Exit):
        failing()
    assert "box must be [x, y, z]; pip install 'chemloop[ray]'" in capsys.readouterr().out


@pytest.mark.slow
def test_output_paths_with_brackets_print_as_written(tmp_path):
    """A folder named like ``run[ray]`` is text, not rich markup."""
    output = tmp_path / "run[ray]" / "samples.csv"
    output.parent.mkdir()
    result = runner.invoke(
        app, ["sample", "--num", "20", "--seed", "0", "--output", str(output), "--device", "cpu"]
    )
    assert result.exit_code == 0, result.output
    assert "run[ray]" in result.output.replace("\n", "")


@pytest.mark.slow
def test_sample_writes_one_row_per_generated_string(tmp_path):
    output = tmp_path / "samples.csv"
    result = runner.invoke(
        app, ["sample", "--num", "300", "--seed", "1", "--output", str(output), "--device", "cpu"]
    )
    assert result.exit_code == 0, result.output
    assert "validity" in result.output and "valid molecules/s" in result.output
    with output.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 300
    assert list(rows[0]) == ["smiles", "valid", "canonical", "nll"]
    valid = [r for r in rows if r["valid"] == "1"]
    assert all(r["canonical"] for r in valid)
    assert all(not r["canonical"] for r in rows if r["valid"] == "0")
    assert all(float(r["nll"]) > 0 for r in rows)


def test_sample_writes_smi_and_sdf_files_of_each_valid_molecule_once(tmp_path):
    """`--output x.smi` is a SMILES file (not CSV under a .smi name) that pretrain and finetune read;
    `--output x.sdf` holds the same molecules laid out in 2D, each with its NLL."""
    from rdkit import Chem

    from chemloop.chem.mol import canonical
    from chemloop.data.corpus import load_corpus

    smi, sdf = tmp_path / "samples.smi", tmp_path / "samples.sdf"
    for output in (smi, sdf):
        command = ["sample", "--num", "40", "--seed", "0", "--output", str(output), "--device", "cpu"]
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
    lines = smi.read_text().splitlines()
    assert lines and len(set(lines)) == len(lines)
    assert all(canonical(smiles) == smiles for smiles in lines)
    assert load_corpus(smi).smiles == lines
    records = list(Chem.SDMolSupplier(str(sdf)))
    assert [canonical(Chem.MolToSmiles(m)) for m in records] == lines
    for mol in records:
        assert mol.GetProp("_Name").startswith("sample ") and float(mol.GetProp("nll")) > 0
        positions = mol.GetConformer().GetPositions()
        assert not mol.GetConformer().Is3D() and abs(positions[:, :2]).max() > 0  # laid out, not all at 0


def test_sample_writes_gzipped_files_and_refuses_a_name_it_cannot_write(tmp_path, monkeypatch):
    """A final .gz gzips any of the three formats (the corpus readers take them back); another
    extension is an error that names the file, before any sampling."""
    import gzip

    from chemloop import api
    from chemloop.chem.mol import canonical
    from chemloop.data.corpus import load_corpus

    for name in ("samples.smi.gz", "samples.CSV.gz", "samples.sdf.gz"):
        command = [
            "sample",
            "--num",
            "30",
            "--seed",
            "0",
            "--output",
            str(tmp_path / name),
            "--device",
            "cpu",
        ]
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
        with gzip.open(tmp_path / name, "rt") as handle:
            assert handle.read(1)
    smi = load_corpus(tmp_path / "samples.smi.gz").smiles
    assert smi and load_corpus(tmp_path / "samples.sdf.gz").smiles == smi
    written = load_corpus(tmp_path / "samples.CSV.gz", skip_invalid=True).smiles  # as sampled, every string
    assert {canonical(s) for s in written} == set(smi)

    def never(*args, **kwargs):
        raise AssertionError("sampled for a file it cannot write")

    monkeypatch.setattr(api, "sample", never)
    result = runner.invoke(app, ["sample", "--num", "5", "--output", str(tmp_path / "samples.xyz")])
    assert result.exit_code == 2
    assert "samples.xyz" in result.output and ".smi" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "samples.xyz").exists()


def test_sample_without_output_shows_molecules(monkeypatch):
    """A first `chemloop sample` prints some of the molecules, not only their statistics."""
    from rdkit import Chem

    monkeypatch.setenv("COLUMNS", "200")  # whole SMILES on one table row
    result = runner.invoke(app, ["sample", "--num", "12", "--seed", "0", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    rows = [line.split("│")[1].strip() for line in result.output.splitlines() if line.count("│") == 3]
    assert 1 <= len(rows) <= 10
    assert all(Chem.MolFromSmiles(smiles) is not None for smiles in rows)
    assert "--output FILE writes all 12 strings" in result.output


def test_sample_from_a_missing_model_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["sample", "--model", str(tmp_path / "nowhere"), "--num", "5"])
    assert result.exit_code == 2
    assert "no checkpoint folder" in result.output


def test_pretrain_names_the_bad_row(tmp_path):
    data = tmp_path / "bad.smi"
    data.write_text("CCO\nC1CC\n")
    result = runner.invoke(app, ["pretrain", "--data", str(data), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "line 2: 'C1CC'" in result.output


def test_pretrain_rejects_an_impossible_option(tmp_path):
    result = runner.invoke(app, ["pretrain", "--n-layer", "0", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "n_layer" in result.output


def test_tables_keep_their_numbers_outside_a_terminal():
    """Printed to a log file or CI, a ten-column table is not squeezed into 80 columns and cut to "…"."""
    from rich.table import Table

    from chemloop.cli_common import make_console

    table = Table()
    for i in range(10):
        table.add_column(f"column {i}", no_wrap=True)
    table.add_row(*["0.1235"] * 10)
    console = make_console(terminal=False)
    with console.capture() as captured:
        console.print(table)
    assert "…" not in captured.get()
    assert captured.get().count("0.1235") == 10


def test_command_lists_print_each_description_unbroken():
    """A command's docstring wraps at 100 characters; in `chemloop --help` its first paragraph reads
    as one sentence, wrapped by the terminal only (no line break in the middle of it)."""
    result = runner.invoke(app, ["bench", "--help"], env={"COLUMNS": "400"}, terminal_width=400)
    assert result.exit_code == 0
    lines = [line for line in result.output.splitlines() if "Compressed variants of a model" in line]
    assert len(lines) == 1 and "starting from each variant." in lines[0]

    def commands(typer_app):
        yield from typer_app.registered_commands
        for group in typer_app.registered_groups:
            yield from commands(group.typer_instance)

    assert all("\n" not in info.short_help for info in commands(app))
