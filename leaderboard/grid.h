// Internal to leaderboard/: the table as texts (one per cell, markup-free) that every format decorates.
#pragma once

#include <string>
#include <vector>

#include "leaderboard/leaderboard.h"

namespace electra::detail {

struct GridCell {
  std::string value;   // "89.56", "61.17 / 87.64", "(78.12)" for a partial mean, "–" when missing
  std::string spread;  // "88.90–89.30" for several seeds ("88.90–89.30, sd 0.21" with intervals, "1 seed"), else empty
  bool best = false;
  std::string interval;  // "± 0.61": half-width of the reproduction interval; empty without one
  std::string verdict;   // "✓" reproduced, "▼" below, "▲" above; empty without a verdict
};

enum class GridRowKind { published, ours, delta };

struct GridRow {
  GridRowKind kind = GridRowKind::published;
  std::string name;    // "Δ vs <row>" for delta rows
  std::string link;
  std::vector<GridCell> cells;  // params, Avg., then one per column
};

struct Grid {
  std::vector<std::string> headers;        // "# Params", "Avg.", then each column's header
  std::vector<std::string> metric_labels;  // "", "", then each column's metric label
  std::vector<GridRow> rows;
  std::vector<std::string> footnotes;      // plain text, one per line
};

inline const char* kMissing = "\u2013";  // the en dash of the published tables
const char* verdict_mark(Verdict verdict);

// `best_marker` ends the footnote sentence on the best values: "in bold", "marked *".
Grid make_grid(const LeaderboardTable& table, const std::string& best_marker);
std::string signed_fixed(double value, int decimals);

}  // namespace electra::detail
