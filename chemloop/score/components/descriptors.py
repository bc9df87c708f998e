"""RDKit descriptors (physico-chemical, QED, SA score) as scoring components, raw values with no
transform: one component per entry of :data:`chemloop.chem.descriptors.DESCRIPTORS`, same name."""

from rdkit import Chem

from chemloop.chem.descriptors import DESCRIPTORS, Descriptor
from chemloop.score.registry import component


def _register(name: str, descriptor: Descriptor) -> None:
    def score(mols: list[Chem.Mol]) -> list[float]:
        return [descriptor.function(m) for m in mols]

    score.__name__ = score.__qualname__ = name
    score.__doc__ = descriptor.description
    component(name)(score)


for _name, _descriptor in DESCRIPTORS.items():
    _register(_name, _descriptor)
