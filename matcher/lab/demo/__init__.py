"""Seeded generator of a realistic demo data set for the matchmaking service.

All data produced here is synthetic: the organisations, their names, websites (under the
reserved ``.example`` top-level domain), profiles and collaborations are fictitious and
any resemblance to real organisations is coincidental. Country codes, NUTS region codes
and the EU industrial ecosystems are real so that the data exercises the real vocabularies.

The generator is fully deterministic: the same arguments give byte-identical output,
independent of ``PYTHONHASHSEED`` and of the current time.

Modules: :mod:`~matcher.lab.demo.vocabulary` reads the word lists in ``data/``;
:mod:`~matcher.lab.demo.profiles` and :mod:`~matcher.lab.demo.texts` draw organisations;
:mod:`~matcher.lab.demo.network` draws their collaborations;
:mod:`~matcher.lab.demo.generate` puts them together.
"""

from matcher.lab.demo.generate import DemoData, generate_demo

__all__ = ["DemoData", "generate_demo"]
