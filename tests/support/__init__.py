"""What the tests share, instead of importing from one another (a test module is never imported by another).

- ``clock``: the virtual clock (``at(day, hour)`` in China time, ``days(start, end)``, ``fake_clock()``);
- ``tick``: the tick driver over ``tasks.tick.run_tick`` (``tick``, ``tick_days``, ``tick_until``, named steps);
- ``postgres``: the PostgreSQL server of the tests (its URL, whether it answers, throwaway databases);
- ``databases``: a fresh migrated database per test (copied from a migrated template), copies, row snapshots;
- ``smtp``: a real SMTP server (aiosmtpd) that records what it accepts;
- ``world``: the demo county, campaigns launched for townships, sign-ins, launching without Prefect;
- ``web``: the web UI as a browser sees it (sign-in, CSRF tokens and versions of forms, the route table);
- ``qx02``: 柳河乡 with material in every state, its routes and forms (the permission, CSRF and route-matrix tests);
- ``mail``: the contexts of the mail templates and users to mail;
- ``workbooks``: Excel workbooks made in memory.

Modules are imported one by one (``from tests.support.clock import at``): this ``__init__`` imports nothing,
so that ``tests/conftest.py`` can set the environment before anything of duban is imported.
"""
