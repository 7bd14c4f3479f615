"""Load and validate the user's files: scenario YAML and catalogue CSV/Parquet."""

from optimizer.load.catalogue import load_catalogue
from optimizer.load.errors import InputError, InputProblem
from optimizer.load.scenario import load_scenario
from optimizer.load.types import Catalogue, Scenario, YamlSource

__all__ = [
    "Catalogue", "InputError", "InputProblem", "Scenario", "YamlSource", "load_catalogue",
    "load_scenario",
]
