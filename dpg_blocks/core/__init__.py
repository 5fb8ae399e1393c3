"""The headless document model: graphs, edits with undo/redo, project files. Stdlib only."""

from dpg_blocks.core.edits import (
    AddBlock,
    Compound,
    Connect,
    Disconnect,
    Edit,
    History,
    Merge,
    Move,
    RemoveBlock,
    Rename,
    SetOrders,
    SetParam,
    SetPorts,
    SetTies,
    SetTraining,
    Unmerge,
)
from dpg_blocks.core.graph import SUPERBLOCK_TYPE, Block, Endpoint, Graph, GraphError, Link, Port
from dpg_blocks.core.project import OptimizerSettings, Order, Project, Tie, TrainingSettings
from dpg_blocks.core.project_file import (
    ProjectFileError,
    dumps,
    load_project,
    loads,
    project_to_dict,
    save_project,
)

__all__ = [
    "AddBlock", "Compound", "Connect", "Disconnect", "Edit", "History", "Merge", "Move",
    "RemoveBlock", "Rename", "SetOrders", "SetParam", "SetPorts", "SetTies", "SetTraining", "Unmerge",
    "SUPERBLOCK_TYPE", "Block", "Endpoint", "Graph", "GraphError", "Link", "Port",
    "OptimizerSettings", "Order", "Project", "Tie", "TrainingSettings",
    "ProjectFileError", "dumps", "load_project", "loads", "project_to_dict", "save_project",
]
