"""Helpers for the analyst notebooks: plain data and matplotlib figures, no logic in cells.

Every function returns plain data (a :class:`Table`, a dataclass of numpy arrays, a list)
or a :class:`matplotlib.figure.Figure` built without ``pyplot``. Figures need matplotlib
(the ``notebooks`` extra); the rest does not.

- :mod:`~matcher.lab.analysis.homes`: :func:`open_home` (``MATCHER_HOME``'s data, else the
  demo), :func:`copy_home` (a copy to write into);
- :mod:`~matcher.lab.analysis.data`: counts, the degree distribution, a typical organisation;
- :mod:`~matcher.lab.analysis.embedding`: the embedding map and neighbour agreement;
- :mod:`~matcher.lab.analysis.graph`: the link scores for one organisation and over many;
- :mod:`~matcher.lab.analysis.quality`: the product against the baselines on the home's
  own history, ablations, CORDIS;
- :mod:`~matcher.lab.analysis.suggestions`: one organisation's list and its reasons;
- :mod:`~matcher.lab.analysis.crossborder`: share abroad, coverage, target-market hits;
- :mod:`~matcher.lab.analysis.feedback`: feedback outcomes in a copy of the home;
- :mod:`~matcher.lab.analysis.workshop` (imported on its own): table-plan helpers.
"""

from matcher.lab.analysis.crossborder import (
    SuggestionLists,
    TargetHit,
    abroad_share,
    coverage_table,
    cross_border_table,
    plot_coverage,
    plot_cross_border,
    plot_target_hits,
    rule_aims,
    sample_ids,
    suggestion_lists,
    target_hits,
    target_market_table,
)
from matcher.lab.analysis.data import (
    collaboration_years,
    degree_distribution,
    degree_table,
    degrees,
    plot_counts,
    plot_degree_distribution,
    typical_organisation,
)
from matcher.lab.analysis.embedding import (
    EmbeddingMap,
    embedding_map,
    neighbour_agreement,
    plot_embedding_map,
)
from matcher.lab.analysis.feedback import (
    FEEDBACK_PLAN,
    FeedbackCase,
    FeedbackOutcome,
    feedback_outcomes,
    feedback_summary,
    feedback_table,
    plot_feedback,
)
from matcher.lab.analysis.graph import (
    LinkScores,
    link_score_correlations,
    link_score_table,
    link_scores,
    plot_link_scores,
)
from matcher.lab.analysis.homes import (
    DEMO_MARKER,
    Home,
    RememberingEncoder,
    copy_home,
    demo_home,
    open_copy,
    open_home,
)
from matcher.lab.analysis.quality import (
    ABLATIONS,
    BASELINES,
    Comparison,
    ablation_deltas,
    compare,
    cordis_comparison,
    history_years,
    home_split,
    plot_ablation,
    plot_by_degree,
    plot_metric,
    product_homes,
    report_table,
)
from matcher.lab.analysis.suggestions import (
    left_out_table,
    plot_reasons,
    profile_table,
    reasons_table,
    suggestions_table,
)
from matcher.lab.analysis.tables import Table, count_table

__all__ = [
    "ABLATIONS",
    "BASELINES",
    "DEMO_MARKER",
    "FEEDBACK_PLAN",
    "Comparison",
    "EmbeddingMap",
    "FeedbackCase",
    "FeedbackOutcome",
    "Home",
    "LinkScores",
    "RememberingEncoder",
    "SuggestionLists",
    "Table",
    "TargetHit",
    "ablation_deltas",
    "abroad_share",
    "collaboration_years",
    "compare",
    "copy_home",
    "cordis_comparison",
    "count_table",
    "coverage_table",
    "cross_border_table",
    "degree_distribution",
    "degree_table",
    "degrees",
    "demo_home",
    "embedding_map",
    "feedback_outcomes",
    "feedback_summary",
    "feedback_table",
    "history_years",
    "home_split",
    "left_out_table",
    "link_score_correlations",
    "link_score_table",
    "link_scores",
    "neighbour_agreement",
    "open_copy",
    "open_home",
    "plot_ablation",
    "plot_by_degree",
    "plot_counts",
    "plot_coverage",
    "plot_cross_border",
    "plot_degree_distribution",
    "plot_embedding_map",
    "plot_feedback",
    "plot_link_scores",
    "plot_metric",
    "plot_reasons",
    "plot_target_hits",
    "product_homes",
    "profile_table",
    "reasons_table",
    "report_table",
    "rule_aims",
    "sample_ids",
    "suggestion_lists",
    "suggestions_table",
    "target_hits",
    "target_market_table",
    "typical_organisation",
]
