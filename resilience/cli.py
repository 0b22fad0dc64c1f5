"""Commands → functions. This module maps errors to exit codes and holds no logic:

0 done · 1 anything else · 2 invalid input · 3 infeasible · 4 time limit, no plan ·
130 interrupted.

Pyomo and HiGHS are imported only by commands that solve, so `--help`, `validate` and
`template` start fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from resilience.errors import (
    ExtraError,
    InfeasibleError,
    InputError,
    NoPlanError,
    SolverDisagreement,
    VerificationError,
)

app = typer.Typer(
    add_completion=False,
    help="Supply-chain resilience optimizer: how much of each critical input to buy from "
         "which supplier in which country, trading cost against concentration and risk.",
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from resilience import __version__

        typer.echo(f"resilience {__version__}")
        raise typer.Exit(0)


@app.callback(invoke_without_command=True)
def _main(
    context: typer.Context,
    version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit")] = False,
) -> None:
    """Bare `resilience` prints this help and exits 0."""
    if context.invoked_subcommand is None:
        typer.echo(context.get_help())
        raise typer.Exit(0)

EXIT_OK, EXIT_ERROR, EXIT_INPUT, EXIT_INFEASIBLE, EXIT_NO_PLAN, EXIT_INTERRUPTED = (
    0, 1, 2, 3, 4, 130)


def _err(text: str) -> None:
    typer.echo(text, err=True)


# Set once Ctrl-C has been handled. A writer interrupted mid-file (openpyxl's write-only
# sheets are generators over lxml) can raise again when the garbage collector closes it,
# and Python would print that as "Exception ignored in ..." with a traceback after our
# one-line message; `_quiet_after_interrupt` drops exactly those.
_INTERRUPTED = threading.Event()
_default_unraisable = sys.unraisablehook


def _quiet_after_interrupt(unraisable) -> None:
    if not _INTERRUPTED.is_set():
        _default_unraisable(unraisable)


def _run(action: Callable[[], int]) -> None:
    """Run a command body; turn every known failure into its exit code and a message."""
    from resilience.report.files import OutputError

    try:
        code = action()
    except InputError as exc:
        errors = [p for p in exc.problems if not p.warning]
        warnings = [p for p in exc.problems if p.warning]
        _err(f"Invalid input: {len(errors)} problem{'s' if len(errors) != 1 else ''}")
        for problem in errors:
            _err(f"  {problem}")
        if warnings:
            _err(f"Warnings ({len(warnings)}):")
            for problem in warnings:
                _err(f"  {problem}")
        code = EXIT_INPUT
    except InfeasibleError as exc:
        _err("Infeasible: no plan satisfies every rule. The conflict:")
        for line in str(exc).splitlines():
            _err(f"  {line}")
        code = EXIT_INFEASIBLE
    except NoPlanError as exc:
        _err(f"No plan found: {exc}")
        code = EXIT_NO_PLAN
    except VerificationError as exc:
        _err(f"Verification failed: {exc}")
        code = EXIT_ERROR
    except ExtraError as exc:
        _err(f"Invalid input: --extra: {exc}")
        code = EXIT_INPUT
    except SolverDisagreement as exc:
        _err(f"Solvers disagree: {exc}")
        code = EXIT_ERROR
    except OutputError as exc:
        _err(f"Cannot write output: {exc}")
        code = EXIT_ERROR
    except KeyboardInterrupt:
        _INTERRUPTED.set()
        _err("Interrupted; no output was written.")
        code = EXIT_INTERRUPTED
    except MemoryError:
        _err("Out of memory: the model is too large for this machine.")
        code = EXIT_ERROR
    except Exception as exc:  # the last line of defence: a message, never a traceback
        _err(f"Error: {type(exc).__name__}: {exc}")
        code = EXIT_ERROR
    finally:
        _release_interrupts()
        if _UNDER_MAIN.is_set():  # the command is over (see _exit_without_interrupts)
            _exit_without_interrupts()
    raise typer.Exit(code)


# From the moment a command's outputs are renamed into place, Ctrl-C is held: the work is
# done and only its last lines are left to print, and "Interrupted; no output was written"
# would be false. `_run` lets go of it when the command ends.
_HELD: list = []  # the SIGINT handler to restore


def _hold_interrupts() -> None:
    if threading.current_thread() is threading.main_thread() and not _HELD:
        _HELD.append(signal.signal(signal.SIGINT, _late_interrupt))


def _release_interrupts() -> None:
    if _HELD:
        signal.signal(signal.SIGINT, _HELD.pop())


def _late_interrupt(signum, frame) -> None:
    """Ctrl-C once the outputs are in place: the command ends as it would have."""


class _Outputs:
    """The files a command writes, each under a temporary name beside its target, renamed
    into place together once every one is written (Ctrl-C held from then on). A command
    interrupted or failing before that leaves none of them, a file it would have replaced
    as it was, and no folder it created for them; JSON for standard output is printed
    after the files are in place."""

    def __init__(self) -> None:
        self.staged: list[tuple[Path, Path]] = []
        self.folders: list[Path] = []  # created for the outputs, deepest first
        self.stdout_json: dict | None = None

    def path(self, target: Path) -> Path:
        """Where to write `target` for now."""
        import secrets

        folder = target.parent
        while not folder.exists() and folder != folder.parent:
            self.folders.append(folder)
            folder = folder.parent
        staged = target.with_name(f".{target.name}.{secrets.token_hex(6)}.partial"
                                  f"{target.suffix}")
        self.staged.append((staged, target))
        return staged

    def json(self, json_path: Path | None, data: dict) -> None:
        if json_path is None:
            return
        if str(json_path) == "-":
            self.stdout_json = data
        else:
            _write_json(self.path(json_path), data)


@contextlib.contextmanager
def _outputs() -> Iterator[_Outputs]:
    outputs = _Outputs()
    committed = False
    try:
        yield outputs
        _hold_interrupts()
        for staged, target in outputs.staged:
            _put_in_place(staged, target)
        committed = True
    finally:
        for staged, _ in outputs.staged:
            with contextlib.suppress(OSError):
                staged.unlink(missing_ok=True)
        if not committed:
            for folder in outputs.folders:
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only when empty
    if outputs.stdout_json is not None:
        _write_json(Path("-"), outputs.stdout_json)


def _put_in_place(staged: Path, target: Path) -> None:
    from resilience.report.files import OutputError

    with contextlib.suppress(OSError):
        if target.exists():  # a replaced file keeps its mode
            os.chmod(staged, target.stat().st_mode & 0o777)
    try:
        os.replace(staged, target)
    except OSError as exc:
        raise OutputError(f"cannot replace {target}: {exc.strerror} (is it open in "
                          "Excel?)") from None


def _working(text: str):
    """A spinner with the elapsed time on stderr while one long piece of work runs, when
    stderr is a terminal (standard output and pipes stay clean)."""
    from resilience.analyses.batch import working

    return working(text, sys.stderr.isatty())


@app.command()
def validate(book: Annotated[Path, typer.Argument(help="Input workbook (.xlsx)")],
             json_path: Annotated[Path | None, typer.Option(
                 "--json", help="Also write the result as JSON here ('-' for stdout): "
                 "ok, every problem, what the workbook holds")] = None,
             force: Annotated[bool, typer.Option(
                 "--force", help="Overwrite the JSON file if it already exists")] = False,
             ) -> None:
    """Check a workbook and list every problem as Sheet!Cell: what is wrong."""

    def body() -> int:
        from resilience.validate import load

        if json_path is not None:
            return _validate_json(book, json_path, force)
        _say_valid(load(book))
        return EXIT_OK

    _run(body)


def _validate_json(book: Path, json_path: Path, force: bool) -> int:
    """validate --json: the JSON (docs/json.md) is written whether or not the workbook is
    valid; the problems are still printed, and an invalid workbook still exits 2."""
    from resilience.api import validate_workbook

    if str(json_path) != "-":
        _check_outputs(json_path, None, (book,), force)
    validation = validate_workbook(book)
    _write_json(json_path, validation.to_dict())
    if not validation.ok:
        raise InputError(list(validation.problems))
    instance = validation.instance
    if str(json_path) == "-":
        _warn(instance)  # standard output holds the JSON alone
        return EXIT_OK
    _say_valid(instance)
    return EXIT_OK


def _say_valid(instance) -> None:
    """What validate prints for a valid workbook: what it holds, then its warnings."""
    typer.echo(_describe(instance))
    if instance.warnings:
        typer.echo(f"Warnings ({len(instance.warnings)}):")
        for warning in instance.warnings:
            typer.echo(f"  {warning}")


def _describe(instance) -> str:
    # over a horizon, every scenario present in some period (baseline once)
    scenarios = instance.scenarios() if not instance.multi_period else tuple(
        {s.name.casefold(): s for p in instance.period_ids()
         for s in instance.scenarios(p)}.values())
    generated = "generated from disruption_prob" if instance.scenario_rows is None \
        else "from the Scenarios sheet"
    strategies = ", ".join(instance.strategies()) or "none"
    horizon = ""
    if instance.multi_period:
        ids = instance.period_ids()
        projects = sum(1 for o in instance.offers if o.is_project)
        horizon = (f"{len(ids)} period{'' if len(ids) == 1 else 's'} ({ids[0]}–{ids[-1]}), "
                   f"{projects} project{'' if projects == 1 else 's'}; ")
    always = sum(1 for p in instance.policies if p.strategy is None and p.whatif is None)
    return (
        f"{instance.source_name}: valid. {horizon}{_count(instance.materials, 'material')}, "
        f"{_count(instance.countries, 'country', 'countries')}, "
        f"{_count(instance.offers, 'offer')} from "
        f"{_count({o.supplier for o in instance.offers}, 'supplier')}; "
        f"{_count(scenarios, 'scenario')} ({generated}, baseline included); "
        f"{_count(instance.policies, 'policy row')} "
        f"({always} always on; strategies: {strategies}); "
        f"{_count(instance.whatif_edits, 'what-if edit')}. "
        f"Settings: risk_aversion {instance.settings.risk_aversion:g}, "
        f"cvar_alpha {instance.settings.cvar_alpha:g}, time_limit "
        f"{instance.settings.time_limit:g} s, mip_gap {instance.settings.mip_gap:g}, "
        f"currency {instance.settings.currency}."
    )


def _count(items, singular: str, plural: str | None = None) -> str:
    """"1 scenario", "2 scenarios"."""
    n = len(items)
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def _default_report(book: Path, suffix: str, strategy: str | None = None,
                    whatif: str | None = None) -> Path:
    """reports/BOOK-plan.xlsx, with the strategy and what-if in the name when given, so
    runs with different options do not write the same file."""
    parts = [book.stem, suffix, *(_slug(n) for n in (strategy, whatif) if n)]
    return Path("reports") / ("-".join(parts) + ".xlsx")


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_." else "_" for c in name.strip()) or "_"


ForceOption = Annotated[bool, typer.Option(
    "--force", help="Overwrite the report (and JSON) if it already exists")]


def _applicable_whatifs(instance) -> list[str]:
    """The default what-ifs of a batch; the library ones that do not apply, in one line."""
    from resilience.cases import applicable_whatifs

    chosen, skipped = applicable_whatifs(instance)
    if skipped:
        _err(f"Skipped {_count(skipped, 'library what-if')} that do not apply to this "
             f"workbook (their edits match none of its rows): {', '.join(skipped)}")
    return chosen


def _warn(instance) -> None:
    """What validate warns about, printed (to stderr) before any result: a team that
    only ever runs solve must still hear it."""
    if instance.warnings:
        _err(f"Warnings ({len(instance.warnings)}):")
        for warning in instance.warnings:
            _err(f"  {warning}")


@app.command()
def solve(
    book: Annotated[Path, typer.Argument(help="Input workbook (.xlsx)")],
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Report workbook to write "
                                             "(default reports/BOOK-plan.xlsx)")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the result "
                                                   "as JSON here ('-' for stdout)")] = None,
    strategy: Annotated[str | None, typer.Option(help="Named policy set to apply")] = None,
    whatif: Annotated[str | None, typer.Option(help="Named what-if to apply")] = None,
    risk_aversion: Annotated[float | None, typer.Option(
        help="λ in [0, 1] (default: the Settings sheet's risk_aversion, else 0)")] = None,
    time_limit: Annotated[float | None, typer.Option(
        help="Seconds for the solver (default: the Settings sheet's time_limit, else 60)")
    ] = None,
    gap: Annotated[float | None, typer.Option(
        help="Relative MIP gap (default: the Settings sheet's mip_gap, else 0.0001)")
    ] = None,
    solver: SolverOption = "highs",
    extra: ExtraOption = None,
    check_with: CheckWithOption = None,
    threads: ThreadsOption = 1,
    force: ForceOption = False,
) -> None:
    """Find the cost-optimal sourcing plan under the workbook's rules and risks."""

    def body() -> int:
        from resilience.cases import prepare_case
        from resilience.validate import load

        target = out or _default_report(book, "plan", strategy, whatif)
        _check_outputs(target, json_path, (book,), force)
        choice = _solver_choice(solver, extra, check_with, threads)
        instance = load(book)
        _warn(instance)
        case = prepare_case(instance, strategy=strategy, whatif=whatif,
                            risk_aversion=risk_aversion, time_limit=time_limit, mip_gap=gap)
        from resilience.api import solve_case
        from resilience.report.excel import write_solve_report
        from resilience.report.kpis import solve_summary

        with _working("solving") as step:
            result = solve_case(case, threads=choice.threads, solver=choice.solver,
                                extra=choice.extra, check_with=choice.check_with,
                                on_progress=lambda p: step(f"solving: {p.text()}"))
            summary = solve_summary(result)
            step("writing the report")
            with _outputs() as outputs:
                write_solve_report(result, outputs.path(target))
                outputs.json(json_path, summary)
        if str(json_path) != "-":
            typer.echo(_solve_line(summary, target))
        return EXIT_OK

    _run(body)


SolverOption = Annotated[str, typer.Option(
    "--solver", help="'highs' (default: HiGHS straight from the model's arrays) or "
    "'pyomo:NAME' for any solver Pyomo knows (pyomo:cbc, pyomo:highs, pyomo:glpk, ...)")]
ExtraOption = Annotated[Path | None, typer.Option(
    "--extra", help="A Python file defining extra(model, instance): constraints of your "
    "own added to the Pyomo model before the solve")]
CheckWithOption = Annotated[str | None, typer.Option(
    "--check-with", help="Re-solve with a second solver (e.g. pyomo:cbc) and fail when "
    "the two optima differ by more than the gap")]
ThreadsOption = Annotated[int, typer.Option(
    "--threads", help="Solver threads (default 1: the same answer on every run)")]


def _solver_choice(solver: str, extra: Path | None, check_with: str | None, threads: int,
                   portable: bool = False):
    """The solver options of the command line, checked before any work is done. A
    `portable` choice keeps the extra file's path (batch workers load it themselves)."""
    from resilience.api import SolverChoice
    from resilience.errors import Problem
    from resilience.extras import load_extra

    problems = []
    for option, name in (("--solver", solver), ("--check-with", check_with)):
        if name is None:
            continue
        try:
            _check_solver(name)
        except ValueError as exc:
            problems.append(Problem("command line", "", f"{option}: {exc}", found=name))
    if threads < 1:
        problems.append(Problem("command line", "", "--threads must be at least 1",
                                found=threads))
    function = None
    if extra is not None:
        try:
            function = load_extra(extra)
        except ValueError as exc:
            problems.append(Problem("command line", "", f"--extra: {exc}", found=str(extra)))
    if problems:
        raise InputError(problems)
    if portable and extra is not None:
        return SolverChoice(solver, threads, extra.resolve(), check_with)
    return SolverChoice(solver, threads, function, check_with)


def _check_solver(name: str) -> None:
    from resilience.solver import parse_solver

    kind, solver = parse_solver(name)
    if kind == "pyomo":
        from resilience.solver.pyomo_backend import SolverUnavailable, check_available

        try:
            check_available(solver)
        except SolverUnavailable as exc:
            raise ValueError(str(exc)) from None


def _solve_line(summary: dict, target: Path) -> str:
    currency = summary["settings"]["currency"]
    gap = summary["mip_gap"]
    gap_text = f", gap {gap:.2%}" if gap is not None else ""
    money = _money_text
    return (f"{summary['status']}{gap_text}: objective {money(summary['objective'])} "
            f"{currency} (first stage {money(summary['first_stage_cost'])}, expected "
            f"recourse {money(summary['expected_recourse_cost'])}, CVaR "
            f"{money(summary['cvar'])}); {_plan_size(summary)}. Report: {target}")


def _money_text(value: float) -> str:
    """A sum of money for the console: to the cent below a million, in whole units from
    a million up, where cents are far below what the solver's gap can tell apart (the
    report and the JSON keep the figure itself)."""
    return f"{value:,.0f}" if abs(value) >= 1e6 else f"{value:,.2f}"


def _plan_size(summary: dict) -> str:
    """"15 contracts", or over a horizon "15 contract-periods over 4 periods, 1 project
    built"."""
    periods = summary.get("periods")
    if not periods:
        return f"{len(summary['plan'])} contracts"
    built = len(summary.get("investments") or ())
    return (f"{len(summary['plan'])} contract-periods over {len(periods)} periods "
            f"({periods[0]}–{periods[-1]}), {built} project{'' if built == 1 else 's'} "
            "built")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("-o", "--out", help="Report to write")] = Path(
        "reports/demo.xlsx"),
) -> None:
    """Solve the embedded critical-inputs data set, base case and each of its strategies,
    into reports/demo.xlsx."""

    def body() -> int:
        from resilience.analyses.batch import tracking
        from resilience.analyses.compare import BASE, CompareRow, case_figures, compare
        from resilience.api import solve_case
        from resilience.cases import prepare_case
        from resilience.library import demo_workbook
        from resilience.report.analyses import console_against_base, strategies_sheet
        from resilience.report.excel import write_solve_report
        from resilience.report.files import check_output
        from resilience.report.kpis import solve_summary
        from resilience.validate import load

        book = demo_workbook()
        check_output(out, (book,))
        instance = load(book)
        strategies = instance.strategies()
        with tracking(sys.stderr.isatty(), "demo: base case and strategies",
                      1 + len(strategies)) as counter:
            if counter is not None:
                counter.note("base case")
            result = solve_case(prepare_case(instance))
            if counter is not None:
                counter.note("")
                counter.advance()
            base = CompareRow(BASE, BASE, result.solution.status.value, "",
                              case_figures(result))
            rows = [base, *compare(instance, list(strategies), [None],
                                   progress=counter or False)]
        currency = instance.settings.currency
        with _working("writing the report"), _outputs() as outputs:
            write_solve_report(result, outputs.path(out),
                               extra_sheets=[strategies_sheet(rows, currency)])
        typer.echo(_solve_line(solve_summary(result), out))
        typer.echo("What each strategy costs and buys against the base case:")
        for line in console_against_base(rows, currency):
            typer.echo(f"  {line}")
        for row in rows:
            if row.status == "failed":
                typer.echo(f"  strategy {row.strategy}: failed ({row.reason})")
        return EXIT_OK

    _run(body)


@app.command(name="list")
def list_cases(book: Annotated[Path, typer.Argument(help="Input workbook (.xlsx)")]) -> None:
    """The strategies and what-ifs you can name for this workbook: its own, then the
    library's (and whether each library what-if applies to it), one line each."""

    def body() -> int:
        from resilience.cases import applicable_whatifs
        from resilience.library import (
            library_description,
            library_strategies,
            library_whatifs,
        )
        from resilience.validate import load
        from resilience.whatif import known_whatifs

        instance = load(book)
        _warn(instance)
        own_s = instance.strategies()
        typer.echo(f"Strategies ({len(own_s) + len(library_strategies())}):")
        for name in own_s:
            rows = sum(1 for p in instance.policies if p.strategy == name)
            typer.echo(f"  {name}  (workbook: {_count(range(rows), 'Policies row')})")
        mine = {n.casefold() for n in own_s}
        for name in library_strategies():
            if name.casefold() not in mine:
                typer.echo(f"  {name}  (library) {library_description('strategies', name)}")
        own_w = known_whatifs(instance)
        applies, skipped = applicable_whatifs(instance)
        typer.echo(f"What-ifs ({len(own_w) + len(library_whatifs())}):")
        for name in own_w:
            edits = sum(1 for e in instance.whatif_edits if e.whatif == name)
            typer.echo(f"  {name}  (workbook: {_count(range(edits), 'edit')})")
        mine = {n.casefold() for n in own_w}
        for name in library_whatifs():
            if name.casefold() in mine:
                continue
            note = "" if name in applies else " [does not apply to this workbook]"
            typer.echo(f"  {name}  (library){note} {library_description('whatifs', name)}")
        return EXIT_OK

    _run(body)


@app.command()
def template(book: Annotated[Path, typer.Argument(help="Where to write the blank template")]
             ) -> None:
    """Write a blank input workbook with dropdowns, units and an Instructions sheet."""

    def body() -> int:
        from resilience.report.files import check_output, write_atomically
        from resilience.template import write_template

        check_output(book)
        if book.exists():
            from resilience.report.files import OutputError

            raise OutputError(f"{book} already exists; the template never overwrites a file")
        with _outputs() as outputs:
            write_atomically(outputs.path(book), write_template)
        typer.echo(f"Template written: {book}. Fill it in, then run: resilience validate "
                   f"{book}")
        return EXIT_OK

    _run(body)


def _check_outputs(target: Path, json_path: Path | None, inputs: tuple[Path, ...],
                   force: bool = False) -> None:
    """Before any work: neither output may be an input, nor each other, nor unwritable,
    nor (without --force) a file that already exists."""
    from resilience.report.files import check_output

    outputs = [target] + ([json_path] if json_path is not None and str(json_path) != "-"
                          else [])
    check_output(target, inputs)
    if len(outputs) > 1:
        check_output(json_path, (*inputs, target))
    existing = [str(path) for path in outputs if path.exists() and not path.is_dir()]
    if existing and not force:
        from resilience.errors import Problem

        raise InputError([Problem("command line", "", f"{path} already exists; give "
                                  "another -o/--json or add --force to overwrite it")
                          for path in existing])


def _names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def _write_json(json_path: Path | None, data: dict) -> None:
    if json_path is None:
        return
    from resilience.report.files import write_text_atomically

    text = json.dumps(data, indent=2, allow_nan=False, default=_plain) + "\n"
    if str(json_path) == "-":
        sys.stdout.write(text)
    else:
        write_text_atomically(json_path, text)


def _plain(value):
    """numpy scalars and other strays become plain JSON values."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)


WorkersOption = Annotated[int, typer.Option(help="Local worker processes for the batch")]
SchedulerOption = Annotated[str | None, typer.Option(
    help="Dask scheduler address (tcp://host:8786): run the batch on that cluster")]
OutOption = Annotated[Path | None, typer.Option("-o", "--out", help="Report workbook")]
JsonOption = Annotated[Path | None, typer.Option("--json", help="Also write JSON here "
                                                 "('-' for stdout)")]


@app.command()
def compare(
    book: Annotated[Path, typer.Argument(help="Input workbook (.xlsx)")],
    strategies: Annotated[str | None, typer.Option(
        help="Comma-separated strategies; 'base' = none. Default: base and every known "
             "strategy")] = None,
    whatifs: Annotated[str | None, typer.Option(
        help="Comma-separated what-ifs; 'base' = none. Default: base and every known "
             "what-if")] = None,
    workers: WorkersOption = 1,
    scheduler: SchedulerOption = None,
    rebuild: Annotated[bool, typer.Option(
        help="Build a model per case instead of one per what-if shared by its "
             "strategies")] = False,
    out: OutOption = None,
    json_path: JsonOption = None,
    solver: SolverOption = "highs",
    extra: ExtraOption = None,
    check_with: CheckWithOption = None,
    threads: ThreadsOption = 1,
    force: ForceOption = False,
) -> None:
    """Solve every strategy × what-if and compare cost, shortage, CVaR and concentration."""

    def body() -> int:
        from resilience.analyses.batch import executor_for
        from resilience.analyses.compare import BASE, compare
        from resilience.cases import known_strategies
        from resilience.report.analyses import compare_json, write_compare_report
        from resilience.validate import load

        target = out or _default_report(book, "compare")
        _check_outputs(target, json_path, (book,), force)
        choice = _solver_choice(solver, extra, check_with, threads, portable=True)
        instance = load(book)
        _warn(instance)
        chosen_s = _names(strategies)
        if chosen_s is None:
            chosen_s = [BASE, *known_strategies(instance)]
        chosen_w = _names(whatifs)
        if chosen_w is None:
            chosen_w = [BASE, *_applicable_whatifs(instance)]
        s_list = [None if s.casefold() == BASE else s for s in chosen_s]
        w_list = [None if w.casefold() == BASE else w for w in chosen_w]
        with executor_for(workers, scheduler) as executor:
            rows = compare(instance, s_list, w_list, executor, progress=sys.stderr.isatty(),
                           reuse=not rebuild, choice=choice)
        with _working("writing the report"), _outputs() as outputs:
            write_compare_report(rows, instance, outputs.path(target))
            outputs.json(json_path, compare_json(rows, instance))
        failed = sum(1 for r in rows if r.status == "failed")
        if str(json_path) != "-":
            from resilience.report.analyses import console_against_base

            for line in console_against_base(rows, instance.settings.currency):
                typer.echo(line)
            typer.echo(f"{_count(rows, 'case')}, {failed} failed. Report: {target}")
            for r in rows:
                if r.status == "failed":
                    typer.echo(f"  failed: {r.strategy} × {r.whatif}: {r.reason}")
        return EXIT_OK

    _run(body)


@app.command()
def frontier(
    book: Annotated[Path, typer.Argument(help="Input workbook (.xlsx)")],
    points: Annotated[int, typer.Option(help="Points per sweep")] = 11,
    strategy: Annotated[str | None, typer.Option(help="Named policy set to apply")] = None,
    whatif: Annotated[str | None, typer.Option(help="Named what-if to apply")] = None,
    workers: WorkersOption = 1,
    scheduler: SchedulerOption = None,
    out: OutOption = None,
    json_path: JsonOption = None,
    solver: SolverOption = "highs",
    extra: ExtraOption = None,
    check_with: CheckWithOption = None,
    threads: ThreadsOption = 1,
    force: ForceOption = False,
) -> None:
    """Cost against concentration (uniform HHI limit) and against tail risk (λ sweep)."""

    def body() -> int:
        from resilience.analyses.batch import executor_for
        from resilience.analyses.frontier import frontier as sweep
        from resilience.cases import prepare_case
        from resilience.report.analyses import frontier_json, write_frontier_report
        from resilience.validate import load

        if points < 1:
            from resilience.errors import InputError, Problem

            raise InputError([Problem("command line", "", "--points must be at least 1",
                                      found=points)])
        target = out or _default_report(book, "frontier", strategy, whatif)
        _check_outputs(target, json_path, (book,), force)
        choice = _solver_choice(solver, extra, check_with, threads, portable=True)
        instance = load(book)
        _warn(instance)
        case = prepare_case(instance, strategy=strategy, whatif=whatif)
        with executor_for(workers, scheduler) as executor:
            result = sweep(case, points, executor, workers=max(workers, 1),
                           progress=sys.stderr.isatty(), choice=choice)
        with _working("writing the report"), _outputs() as outputs:
            write_frontier_report(result, case, outputs.path(target))
            outputs.json(json_path, frontier_json(result, case))
        if str(json_path) != "-":
            from resilience.report.analyses import console_frontier

            for line in console_frontier(result, case.settings.currency):
                typer.echo(line)
            top, floor = result.hhi_range
            typer.echo(f"HHI from {top:,.0f} down to {floor:,.0f} in {points} points, and λ "
                       f"from 0 to 1. Report: {target}")
        return EXIT_OK

    _run(body)


@app.command()
def evaluate(
    book: Annotated[Path, typer.Argument(help="Input workbook (.xlsx)")],
    plan: Annotated[Path, typer.Option("--plan", help="A report's Plan sheet, or any sheet "
                                       "with supplier, material, quantity[, reserve]")],
    whatifs: Annotated[str | None, typer.Option(
        help="Comma-separated what-ifs. Default: every known what-if")] = None,
    strategy: Annotated[str | None, typer.Option(help="Strategy for the re-optimised "
                                                 "plans")] = None,
    workers: WorkersOption = 1,
    scheduler: SchedulerOption = None,
    out: OutOption = None,
    json_path: JsonOption = None,
    solver: SolverOption = "highs",
    extra: ExtraOption = None,
    check_with: CheckWithOption = None,
    threads: ThreadsOption = 1,
    force: ForceOption = False,
) -> None:
    """Hold a plan fixed and see how it fares under the base case and every what-if."""

    def body() -> int:
        from resilience.analyses.batch import executor_for
        from resilience.analyses.evaluate import evaluate as run_evaluate
        from resilience.analyses.evaluate import read_plan
        from resilience.report.analyses import evaluate_json, write_evaluate_report
        from resilience.validate import load

        target = out or _default_report(book, "evaluate", strategy)
        _check_outputs(target, json_path, (book, plan), force)
        choice = _solver_choice(solver, extra, check_with, threads, portable=True)
        instance = load(book)
        _warn(instance)
        fixed = read_plan(plan, instance)
        chosen = _names(whatifs)
        if chosen is None:
            chosen = _applicable_whatifs(instance)
        cases = [None, *[w for w in chosen if w.casefold() != "base"]]
        with executor_for(workers, scheduler) as executor:
            rows = run_evaluate(instance, fixed, cases, strategy, executor,
                                progress=sys.stderr.isatty(), choice=choice)
        with _working("writing the report"), _outputs() as outputs:
            write_evaluate_report(rows, instance, fixed, outputs.path(target))
            outputs.json(json_path, evaluate_json(rows, instance, fixed))
        failed = sum(1 for r in rows if not r.ok)
        if str(json_path) != "-":
            from resilience.report.analyses import console_evaluate

            for line in console_evaluate(rows, instance.settings.currency):
                typer.echo(line)
            typer.echo(f"{len(rows)} cases, {failed} failed. Report: {target}")
        return EXIT_OK

    _run(body)


@app.command()
def export(
    book: Annotated[Path, typer.Argument(help="Input workbook (.xlsx)")],
    lp: Annotated[Path | None, typer.Option("--lp", help="Write the model as an LP file")
                  ] = None,
    mps: Annotated[Path | None, typer.Option("--mps", help="Write the model as an MPS "
                                             "file")] = None,
    strategy: Annotated[str | None, typer.Option(help="Named policy set to apply")] = None,
    whatif: Annotated[str | None, typer.Option(help="Named what-if to apply")] = None,
    risk_aversion: Annotated[float | None, typer.Option(
        help="λ in [0, 1] (default: the Settings sheet's risk_aversion, else 0)")] = None,
    extra: ExtraOption = None,
) -> None:
    """Write the model (in the workbook's units, rows and columns named by family) as an
    LP or MPS file, for bug reports and other solvers."""

    def body() -> int:
        from resilience.api import build_for
        from resilience.cases import prepare_case
        from resilience.errors import Problem
        from resilience.validate import load

        targets = [(path, suffix) for path, suffix in ((lp, ".lp"), (mps, ".mps")) if path]
        if not targets:
            raise InputError([Problem("command line", "", "give --lp OUT.lp or --mps "
                                      "OUT.mps")])
        for path, _ in targets:
            _check_outputs(path, None, (book,))
        choice = _solver_choice("highs", extra, None, 1)
        case = prepare_case(load(book), strategy=strategy, whatif=whatif,
                            risk_aversion=risk_aversion)
        form = build_for(case, choice).form
        from resilience.solver import write_model

        with _outputs() as outputs:
            for path, suffix in targets:
                _write_model_atomically(form, outputs.path(path), suffix, write_model)
        for path, _ in targets:
            typer.echo(f"{path}: {form.n_rows:,} rows, {form.n_cols:,} columns "
                       f"({int(form.integer.sum()):,} binary), {form.nnz:,} nonzeros")
        return EXIT_OK

    _run(body)


def _write_model_atomically(form, path: Path, suffix: str, write_model) -> None:
    """The solver picks the format from the file's suffix, so the temporary file gets
    the same suffix before it is renamed into place."""
    import os

    from resilience.report.files import write_atomically

    def write(temporary: Path) -> None:
        named = temporary.with_name(temporary.name + suffix)
        try:
            write_model(form, named)
            os.replace(named, temporary)
        finally:
            if named.exists():
                named.unlink()

    write_atomically(path, write)


@app.command()
def serve(
    book: Annotated[Path | None, typer.Argument(
        help="Workbook to start from (default: the embedded data set)")] = None,
    host: Annotated[str, typer.Option(help="Address to bind; another than 127.0.0.1 "
                                      "lets other machines in (a warning is printed)")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8050,
) -> None:
    """Start the local web app (it needs the optional web extra; docs/web.md says how
    to install it): pick a strategy and a what-if, solve, compare runs and download
    reports in the browser."""
    from resilience.web.server import serve as run_server

    run_server(host=host, port=port, book=book)


def main() -> None:
    # A console that cannot show a character (an emoji in a supplier's name on a cp1252
    # terminal) must not turn a report into a crash.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    sys.unraisablehook = _quiet_after_interrupt
    _UNDER_MAIN.set()
    try:
        app()
    except KeyboardInterrupt:  # typer building the command from the signatures
        _err("Interrupted; no output was written.")
        raise SystemExit(EXIT_INTERRUPTED) from None
    except SystemExit as done:
        if done.code == EXIT_INTERRUPTED and not _INTERRUPTED.is_set():
            _err("Interrupted; no output was written.")  # typer's silent exit 130
        raise
    finally:
        _exit_without_interrupts()


# The process is the command line's own (not a test's runner): it may ignore Ctrl-C once
# the command has ended.
_UNDER_MAIN = threading.Event()


def _exit_without_interrupts() -> None:
    """The command has ended and said so; what is left is the interpreter's own shutdown
    (a few hundred milliseconds: exit handlers, freeing the model), where a Ctrl-C would
    print a traceback from an exit handler or kill the process by the signal, turning a
    finished command into an interrupted one. It is ignored from here (the pools, the
    solver's processes and the Dask client are closed by now: nothing is left to wait
    for)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    main()
