"""``duban simulate``: whole campaign years of a generated county on a virtual clock, through the same public
service functions as the API, the real tick, outbox and SMTP delivery; then the invariants and a report.

* :mod:`simulation.config` — what a run is asked (:class:`SimulationConfig`) and answers (:class:`SimulationResult`);
* :mod:`simulation.county` — the generated county, its accounts and the townships' behaviour profiles;
* :mod:`simulation.people` — the behaviour model: who submits and reviews when, and the text they write;
* :mod:`simulation.smtp` — the SMTP server that records what it receives;
* :mod:`simulation.run` — the day loop and the faults (SMTP outage, restarts, clock jump);
* :mod:`simulation.invariants` — what must hold afterwards, one function per invariant;
* :mod:`simulation.report` — the summary (the same seed gives the same one) and the HTML report.
"""

from simulation.config import Invariant, SimulationConfig, SimulationResult
from simulation.county import account_specs, county_rows, township_profiles
from simulation.invariants import INVARIANTS, check_invariants
from simulation.people import fill_form, met
from simulation.report import parse_escalation_key, summarise, write_report
from simulation.run import run_simulation

__all__ = [
    "INVARIANTS",
    "Invariant",
    "SimulationConfig",
    "SimulationResult",
    "account_specs",
    "check_invariants",
    "county_rows",
    "fill_form",
    "met",
    "parse_escalation_key",
    "run_simulation",
    "summarise",
    "township_profiles",
    "write_report",
]
