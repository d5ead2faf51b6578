"""Energy and carbon of a piece of work: joules measured or estimated, and the CO2 they
stand for, always with the method written beside the number.

Why: training has an energy cost, and a figure without its method is not worth
reporting. Two methods, the better one the machine allows:

- ``rapl``: the CPU packages' energy counters (``/sys/class/powercap/intel-rapl:N/
  energy_uj``, Linux on Intel and recent AMD CPUs). Measured, but for the whole
  package: other processes on the machine are counted too; memory and GPUs are not.
- ``cpu-time``: an estimate, the CPU seconds of this process and its finished child
  processes (``os.times``) times a power per busy core (``GENLOOM_CPU_WATTS``, default
  :data:`DEFAULT_CPU_WATTS`: a server CPU's TDP of 150 to 300 W spread over 16 to 32
  cores, each core's share at full load). Used where the counters are absent or
  unreadable (most VMs and containers; reading them needs root on recent kernels).

CO2 is energy times a grid intensity in grams per kWh: ``GENLOOM_GRID`` is a number or
a region code of :data:`GRID_G_PER_KWH` (default ``world``). Neither method counts GPUs,
cooling or the making of the machine, so both are lower bounds.

``codecarbon`` was considered and not used: it pulls 14 more packages (a web client,
an auth library, a CLI toolkit) into an evaluation library, and on a machine without
RAPL its CPU figure is the same kind of TDP estimate as ``cpu-time``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from genloom.errors import ConfigError

#: watts per busy core for the ``cpu-time`` estimate (see the module docstring)
DEFAULT_CPU_WATTS = 10.0
#: approximate annual average carbon intensity of electricity, gCO2 per kWh, rounded
#: (Ember's yearly electricity data for 2023); give your grid's own figure where you
#: know it better: ``GENLOOM_GRID=230``
GRID_G_PER_KWH: dict[str, float] = {
    "world": 480.0, "eu": 245.0, "us": 370.0, "cn": 580.0, "in": 710.0, "de": 380.0,
    "fr": 55.0, "gb": 240.0, "se": 40.0, "no": 30.0, "ca": 170.0, "jp": 480.0, "au": 550.0,
    "br": 100.0,
}
POWERCAP = Path("/sys/class/powercap")
JOULES_PER_KWH = 3.6e6


@dataclass(frozen=True)
class Energy:
    """Energy used by some work and the CO2 it stands for, with how both were found."""

    joules: float
    co2_g: float
    seconds: float
    method: str
    grid_g_per_kwh: float
    grid: str

    @property
    def kwh(self) -> float:
        return self.joules / JOULES_PER_KWH

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "kwh": self.kwh, "wh": self.joules / 3600.0}

    def __add__(self, other: "Energy") -> "Energy":
        method = self.method if self.method == other.method else f"{self.method} + {other.method}"
        return Energy(self.joules + other.joules, self.co2_g + other.co2_g, self.seconds + other.seconds,
                      method, self.grid_g_per_kwh, self.grid)


def grid_intensity(value: str | float | None = None) -> tuple[float, str]:
    """``(gCO2/kWh, name)`` for a number or a region code; None reads ``GENLOOM_GRID``."""
    if value is None:
        value = os.environ.get("GENLOOM_GRID", "world")
    if isinstance(value, (int, float)):
        number = float(value)
        name = f"{number:g} g/kWh given"
    else:
        text = value.strip().lower()
        if text in GRID_G_PER_KWH:
            return GRID_G_PER_KWH[text], text
        try:
            number = float(text)
        except ValueError:
            raise ConfigError(
                f"GENLOOM_GRID='{value}': give gCO2 per kWh (e.g. 230) or a region: "
                + ", ".join(sorted(GRID_G_PER_KWH))
            ) from None
        name = f"{number:g} g/kWh given"
    if not number >= 0 or number == float("inf"):
        raise ConfigError(f"GENLOOM_GRID={value}: give a finite gCO2 per kWh of 0 or more")
    return number, name


def cpu_watts(value: str | float | None = None) -> float:
    """Watts per busy core for the estimate; None reads ``GENLOOM_CPU_WATTS``."""
    raw = os.environ.get("GENLOOM_CPU_WATTS", DEFAULT_CPU_WATTS) if value is None else value
    try:
        watts = float(raw)
    except ValueError:
        raise ConfigError(f"GENLOOM_CPU_WATTS='{raw}': give watts per busy core, e.g. 10") from None
    if not 0 < watts < 1e4:
        raise ConfigError(f"GENLOOM_CPU_WATTS={raw}: give watts per busy core between 0 and 10000")
    return watts


def rapl_zones(root: Path = POWERCAP) -> list[Path]:
    """The readable top-level package zones (``intel-rapl:0``, not sub-zones such as
    ``intel-rapl:0:0``, which are inside their package's count)."""
    zones = []
    try:
        entries = sorted(root.glob("intel-rapl:*"))
    except OSError:
        return []
    for zone in entries:
        if zone.name.count(":") != 1:
            continue
        try:
            int((zone / "energy_uj").read_text())
        except (OSError, ValueError):
            continue
        zones.append(zone)
    return zones


def _read_uj(zone: Path) -> tuple[int, int]:
    """The counter and its wrap-around range (0 when unknown)."""
    value = int((zone / "energy_uj").read_text())
    try:
        top = int((zone / "max_energy_range_uj").read_text())
    except (OSError, ValueError):
        top = 0
    return value, top


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class EnergyMeter:
    """Measure (RAPL) or estimate (CPU time) the energy between :meth:`start` and
    :meth:`stop`. ``powercap`` is the folder holding ``intel-rapl:N`` (tests pass a fake
    one; ``GENLOOM_POWERCAP`` overrides the default), ``watts`` and ``grid`` as in
    :func:`cpu_watts` and :func:`grid_intensity`."""

    def __init__(self, *, powercap: Path | str | None = None, watts: float | str | None = None,
                 grid: str | float | None = None) -> None:
        root = Path(powercap or os.environ.get("GENLOOM_POWERCAP") or POWERCAP)
        self.zones = rapl_zones(root)
        self.watts = cpu_watts(watts)
        self.grid_g_per_kwh, self.grid = grid_intensity(grid)
        self._start: tuple[float, float, list[tuple[int, int]]] | None = None

    @property
    def method(self) -> str:
        if self.zones:
            return f"rapl: measured CPU package energy ({len(self.zones)} package(s), whole machine)"
        return f"cpu-time: process CPU seconds x {self.watts:g} W per busy core (estimate)"

    def start(self) -> "EnergyMeter":
        self._start = (time.monotonic(), _cpu_seconds(), [_read_uj(z) for z in self.zones])
        return self

    def read(self) -> Energy:
        """The energy since :meth:`start` (the meter keeps running)."""
        if self._start is None:
            raise RuntimeError("EnergyMeter.read() before start()")
        began, cpu0, counters = self._start
        if self.zones:
            joules = 0.0
            for zone, (before, top) in zip(self.zones, counters):
                after, _ = _read_uj(zone)
                delta = after - before
                if delta < 0:  # the counter wrapped
                    delta += top
                joules += max(delta, 0) / 1e6
        else:
            joules = (_cpu_seconds() - cpu0) * self.watts
        co2 = joules / JOULES_PER_KWH * self.grid_g_per_kwh
        return Energy(joules, co2, time.monotonic() - began, self.method, self.grid_g_per_kwh, self.grid)

    def stop(self) -> Energy:
        energy = self.read()
        self._start = None
        return energy

    def __enter__(self) -> "EnergyMeter":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.result = self.stop()


ENERGY_FILE = "energy.json"


def write_run_energy(run_dir: Path, energy: Energy) -> dict[str, Any]:
    """Add ``energy`` to the run's ``energy.json`` (a resumed run adds a segment) and
    return the file's content."""
    from genloom.atomic import write_atomic

    path = Path(run_dir) / ENERGY_FILE
    segments: list[dict[str, Any]] = []
    try:
        old = json.loads(path.read_text())
        segments = [s for s in old.get("segments", []) if isinstance(s, dict)]
    except (OSError, ValueError, AttributeError):
        pass
    segments.append(energy.as_dict())
    total_j = sum(float(s.get("joules", 0.0)) for s in segments)
    total_co2 = sum(float(s.get("co2_g", 0.0)) for s in segments)
    methods = list(dict.fromkeys(str(s.get("method")) for s in segments))
    content = {
        "wh": total_j / 3600.0, "co2_g": total_co2, "joules": total_j,
        "method": " + ".join(methods), "grid": energy.grid, "grid_g_per_kwh": energy.grid_g_per_kwh,
        "covers": "training (fit) on rank 0; GPUs, memory and cooling are not counted",
        "segments": segments,
    }
    write_atomic(path, json.dumps(content, indent=2) + "\n")
    return content


def read_run_energy(run_dir: Path) -> dict[str, Any] | None:
    """The run's ``energy.json``, or None when it has none or it is not a JSON object."""
    try:
        data = json.loads((Path(run_dir) / ENERGY_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def energy_callback(run_dir: Path | None = None) -> Any:
    """A Lightning callback that meters training: from its start to its end (or failure) it
    writes ``energy.json`` in the run folder (not a ``metrics.csv`` row: that file holds one
    row per logged step, which plots and resumes read). Registered for every run through
    ``genloom_callbacks``."""
    from lightning.pytorch.callbacks import Callback

    meter = EnergyMeter()  # a bad GENLOOM_GRID fails here, before training

    class EnergyCallback(Callback):
        def __init__(self) -> None:
            self.meter = meter
            self.energy: Energy | None = None

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            # not on_fit_start: a resume refused while restoring must leave the run as it was
            self.meter.start()

        def _finish(self, trainer: Any) -> None:
            if self.meter._start is None or not trainer.is_global_zero:
                return
            self.energy = self.meter.stop()
            folder = Path(run_dir or trainer.default_root_dir)
            write_run_energy(folder, self.energy)

        def on_train_end(self, trainer: Any, pl_module: Any) -> None:
            self._finish(trainer)

        def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
            self._finish(trainer)

    return EnergyCallback()
