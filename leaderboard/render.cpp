#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/files.h"
#include "common/utf8.h"
#include "leaderboard/grid.h"
#include "leaderboard/leaderboard.h"

namespace electra {
namespace detail {

std::string signed_fixed(double value, int decimals) {
  const auto text = format_fixed(value, decimals);
  return text[0] == '-' ? text : "+" + text;
}

namespace {

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
  return out;
}

GridCell cell_text(const LeaderboardCell& cell, bool ours) {
  GridCell out;
  out.value = format_fixed(cell.main.value, cell.main.decimals);
  if (cell.secondary) out.value = format_fixed(cell.secondary->value, cell.secondary->decimals) + " / " + out.value;
  if (ours && cell.seeds.size() > 1) {
    out.spread = format_fixed(cell.min, 2) + "\u2013" + format_fixed(cell.max, 2);
    if (cell.secondary_min)
      out.spread = format_fixed(*cell.secondary_min, 2) + "\u2013" + format_fixed(*cell.secondary_max, 2) + " / " + out.spread;
    if (cell.interval) out.spread += ", sd " + format_fixed(cell.sd, 2);
  } else if (ours && cell.interval) {
    out.spread = "1 seed";
  }
  if (ours && cell.interval) out.interval = "\u00b1 " + format_fixed((cell.interval->high - cell.interval->low) / 2, 2);
  if (ours && cell.verdict) out.verdict = verdict_mark(*cell.verdict);
  out.best = cell.best;
  return out;
}

std::string decorated(const GridCell& cell, const std::string& value) {
  std::string text = value;
  if (!cell.interval.empty()) text += " " + cell.interval;
  if (!cell.verdict.empty()) text += " " + cell.verdict;
  if (!cell.spread.empty()) text += " (" + cell.spread + ")";
  return text;
}

std::string seeds_text(const std::vector<int64_t>& seeds) {
  std::vector<std::string> parts;
  for (const auto s : seeds) parts.push_back(std::to_string(s));
  return join(parts, ", ");
}

}  // namespace

const char* verdict_mark(Verdict verdict) {
  switch (verdict) {
    case Verdict::reproduced: return "\u2713";
    case Verdict::below: return "\u25bc";
    case Verdict::above: return "\u25b2";
  }
  return "?";
}

Grid make_grid(const LeaderboardTable& table, const std::string& best_marker) {
  const auto& spec = table.spec;
  Grid grid;
  grid.headers = {"# Params", "Avg."};
  grid.metric_labels = {"", ""};
  for (const auto& column : spec.columns) {
    grid.headers.push_back(column.header);
    grid.metric_labels.push_back(column.metric_label);
  }
  bool any_partial = false, any_spread = false;
  for (const auto& row : table.rows) {
    GridRow out;
    out.kind = row.ours ? GridRowKind::ours : GridRowKind::published;
    out.name = row.name;
    out.link = row.link;
    out.cells.push_back(GridCell{row.params_text.empty() ? kMissing : row.params_text, "", false, "", ""});
    if (row.avg)
      out.cells.push_back(GridCell{format_fixed(row.avg->value, row.avg->decimals), "", row.avg_best, "", ""});
    else if (row.partial_avg)
      out.cells.push_back(GridCell{"(" + format_fixed(*row.partial_avg, 2) + ")", "", false, "", ""});
    else
      out.cells.push_back(GridCell{kMissing, "", false, "", ""});
    any_partial = any_partial || row.partial_avg.has_value();
    for (const auto& column : spec.columns) {
      const auto it = row.cells.find(column.task);
      out.cells.push_back(it == row.cells.end() ? GridCell{kMissing, "", false, "", ""} : cell_text(it->second, row.ours));
      any_spread = any_spread || (it != row.cells.end() && it->second.seeds.size() > 1);
    }
    grid.rows.push_back(std::move(out));
    if (!row.ours || table.compare.empty()) continue;
    GridRow delta;
    delta.kind = GridRowKind::delta;
    delta.name = "\u0394 vs " + table.compare;
    delta.cells.push_back(GridCell{"", "", false, "", ""});
    delta.cells.push_back(GridCell{row.delta_avg ? signed_fixed(*row.delta_avg, 2) : kMissing, "", false, "", ""});
    for (const auto& column : spec.columns) {
      const auto it = row.delta.find(column.task);
      std::string text = it == row.delta.end() ? kMissing : signed_fixed(it->second, 2);
      if (const auto sec = row.delta_secondary.find(column.task); sec != row.delta_secondary.end())
        text = signed_fixed(sec->second, 2) + " / " + text;
      delta.cells.push_back(GridCell{text, "", false, "", ""});
    }
    grid.rows.push_back(std::move(delta));
  }

  std::vector<std::string> splits;
  for (const auto& column : spec.columns)
    splits.push_back(column.header + " " + column.split + (column.split_note.empty() ? "" : " (" + column.split_note + ")"));
  grid.footnotes.push_back("Splits, as the published columns report them, and our rows are scored on the same split: " +
                           join(splits, "; ") + ".");
  std::string avg = "Avg.: " + (spec.average_note.empty() ? std::string("plain mean of the main metrics") : spec.average_note) +
                    "; only rows with every column have one";
  if (any_partial) avg += "; (in parentheses) the partial mean of a row that lacks some columns";
  std::vector<std::string> computed;
  for (const auto& row : table.rows)
    if (!row.ours && row.avg && !row.avg_published) computed.push_back(row.name);
  if (!computed.empty()) avg += "; computed here for published rows that give none (" + join(computed, ", ") + ")";
  grid.footnotes.push_back(avg + ". Best value of each column " + best_marker + ".");
  std::vector<std::string> ours;
  for (const auto& row : table.rows) {
    if (!row.ours) continue;
    std::vector<int64_t> common;
    bool same = true;
    std::vector<std::string> per_task;
    for (const auto& column : spec.columns) {
      const auto it = row.cells.find(column.task);
      if (it == row.cells.end()) continue;
      if (per_task.empty()) common = it->second.seeds;
      same = same && it->second.seeds == common;
      per_task.push_back(column.header + " " + seeds_text(it->second.seeds));
    }
    ours.push_back(row.name + " (" + std::to_string(row.files.size()) + " results.json): " +
                   (same ? (common.size() > 1 ? "seeds " : "seed ") + seeds_text(common) : "seeds " + join(per_task, "; ")));
  }
  if (!ours.empty())
    grid.footnotes.push_back(std::string("Ours: ") + (any_spread ? "median over seeds, (min\u2013max) over seeds where a task has several; " : "") +
                             join(ours, "; ") + ".");
  if (!table.compare.empty() && !ours.empty())
    grid.footnotes.push_back("\u0394: our row minus " + table.compare + ", on the values shown.");
  bool any_interval = false;
  for (const auto& row : table.rows)
    for (const auto& [task, cell] : row.cells) any_interval = any_interval || (row.ours && cell.interval);
  if (any_interval) {
    grid.footnotes.push_back(fmt::format(
        "\u00b1: half-width of the {:g} % reproduction interval: the percentile bootstrap interval of the median over "
        "seeds ({} resamples of the test examples; NER sentences, KorQuAD questions), widened by 1.96 standard "
        "deviations of the seeds, added in quadrature (docs/reproduction.md). Verdict: \u2713 reproduced (the published "
        "value is inside), \u25bc below (the published value is above the interval), \u25b2 above.",
        table.confidence * 100, table.bootstrap));
  }
  for (const auto& row : table.rows) {
    if (!row.ours) continue;
    const auto summary = verdict_summary(row);
    if (!summary.empty()) grid.footnotes.push_back("Verdicts, " + row.name + " against " + row.verdict_row + ": " + summary + ".");
  }
  for (const auto& c : table.paired)
    grid.footnotes.push_back(fmt::format(
        "Paired bootstrap, {} {}: {} minus {} (--paired) = {} [{}, {}], p {} ({} vs {} seeds, {} test units, same "
        "resamples).",
        c.task, c.metric, c.ours, c.other, signed_fixed(c.difference, 2), signed_fixed(c.interval.low, 2),
        signed_fixed(c.interval.high, 2),
        // No resample crossed 0: the p-value is below the resolution of the resamples.
        c.p_value == 0 ? fmt::format("< {:g}", 1.0 / static_cast<double>(table.bootstrap)) : fmt::format("= {:.3f}", c.p_value),
        c.seeds_ours, c.seeds_other, c.units));
  if (!table.interval_notes.empty())
    grid.footnotes.push_back(any_interval ? "No interval: " + join(table.interval_notes, "; ") + "."
                                          : "No intervals or verdicts: none of our runs has its predictions file and "
                                            "gold data at hand (first: " + table.interval_notes.front() + ").");
  std::vector<std::string> sources;
  for (const auto& row : table.rows)
    if (!row.ours) sources.push_back(row.name + ": " + row.source);
  if (!sources.empty()) grid.footnotes.push_back("Published rows: " + join(sources, "; ") + ".");
  for (const auto& note : table.notes) grid.footnotes.push_back("Note: " + note + ".");
  return grid;
}

}  // namespace detail

namespace {

using detail::Grid;
using detail::GridRowKind;

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
  return out;
}

std::string escape_markdown(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '|' || c == '*' || c == '_' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string render_markdown(const LeaderboardTable& table) {
  const Grid grid = detail::make_grid(table, "in bold");
  std::string out = "## " + table.spec.title + "\n\n";
  std::vector<std::string> header = {" "}, align = {":---:"};
  for (size_t i = 0; i < grid.headers.size(); ++i) {
    const auto head = "**" + escape_markdown(grid.headers[i]) + "**";
    header.push_back(grid.metric_labels[i].empty() ? head : head + "<br/>(" + escape_markdown(grid.metric_labels[i]) + ")");
    align.push_back(":---:");
  }
  out += "| " + join(header, " | ") + " |\n";
  out += "| " + join(align, " | ") + " |\n";
  for (const auto& row : grid.rows) {
    std::vector<std::string> cells;
    switch (row.kind) {
      case GridRowKind::published:
        cells.push_back(row.link.empty() ? escape_markdown(row.name) : "[" + escape_markdown(row.name) + "](" + row.link + ")");
        break;
      case GridRowKind::ours:
        cells.push_back("***" + escape_markdown(row.name) + "*** (ours)");
        break;
      case GridRowKind::delta:
        cells.push_back("*" + escape_markdown(row.name) + "*");
        break;
    }
    for (const auto& cell : row.cells) cells.push_back(detail::decorated(cell, cell.best ? "**" + cell.value + "**" : cell.value));
    out += "| " + join(cells, " | ") + " |\n";
  }
  out += "\n";
  for (const auto& note : grid.footnotes) out += "- " + escape_markdown(note) + "\n";
  return out;
}

size_t display_width(const std::string& text) { return static_cast<size_t>(utf8::length(text)); }

std::string render_text(const LeaderboardTable& table) {
  const Grid grid = detail::make_grid(table, "marked *");
  std::vector<std::vector<std::string>> lines;
  std::vector<std::string> header = {""};
  for (size_t i = 0; i < grid.headers.size(); ++i)
    header.push_back(grid.metric_labels[i].empty() ? grid.headers[i] : grid.headers[i] + " (" + grid.metric_labels[i] + ")");
  lines.push_back(header);
  for (const auto& row : grid.rows) {
    std::vector<std::string> cells = {row.kind == GridRowKind::ours ? row.name + " (ours)" : row.name};
    for (const auto& cell : row.cells) cells.push_back(detail::decorated(cell, cell.value + (cell.best ? "*" : "")));
    lines.push_back(cells);
  }
  std::vector<size_t> widths(header.size(), 0);
  for (const auto& line : lines)
    for (size_t i = 0; i < line.size(); ++i) widths[i] = std::max(widths[i], display_width(line[i]));
  std::string out = table.spec.title + "\n\n";
  for (const auto& line : lines) {
    std::string text;
    for (size_t i = 0; i < line.size(); ++i) {
      const auto pad = std::string(widths[i] - display_width(line[i]), ' ');
      text += i == 0 ? line[i] + pad : "  " + pad + line[i];  // names left, numbers right
    }
    out += text + "\n";
  }
  out += "\n";
  for (const auto& note : grid.footnotes) out += note + "\n";
  return out;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (const char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string render_csv(const LeaderboardTable& table) {
  const auto& spec = table.spec;
  std::vector<std::string> header = {"model", "kind", "params", "avg", "partial_avg"};
  for (const auto& column : spec.columns) {
    if (!column.secondary_metric.empty()) header.push_back(column.task + "_" + column.secondary_metric);
    header.push_back(column.task + "_" + column.metric);
    header.push_back(column.task + "_min");
    header.push_back(column.task + "_max");
    header.push_back(column.task + "_seeds");
    for (const char* field : {"_sd", "_low", "_high", "_test_low", "_test_high", "_verdict"}) header.push_back(column.task + field);
  }
  header.push_back("split");
  std::vector<std::string> splits;
  for (const auto& column : spec.columns) splits.push_back(column.task + "=" + column.split);
  std::string out = join(header, ",") + "\n";
  for (const auto& row : table.rows) {
    std::vector<std::string> cells = {csv_field(row.name), row.ours ? "ours" : "published",
                                      csv_field(row.params_text),
                                      row.avg ? format_fixed(row.avg->value, row.avg->decimals) : "",
                                      row.partial_avg ? format_fixed(*row.partial_avg, 2) : ""};
    for (const auto& column : spec.columns) {
      const auto it = row.cells.find(column.task);
      const bool has = it != row.cells.end();
      if (!column.secondary_metric.empty())
        cells.push_back(has && it->second.secondary ? format_fixed(it->second.secondary->value, it->second.secondary->decimals) : "");
      cells.push_back(has ? format_fixed(it->second.main.value, it->second.main.decimals) : "");
      cells.push_back(has && row.ours ? format_fixed(it->second.min, 2) : "");
      cells.push_back(has && row.ours ? format_fixed(it->second.max, 2) : "");
      cells.push_back(has && row.ours ? std::to_string(it->second.seeds.size()) : "");
      const LeaderboardCell* c = has && row.ours ? &it->second : nullptr;
      cells.push_back(c && c->interval ? format_fixed(c->sd, 4) : "");
      cells.push_back(c && c->interval ? format_fixed(c->interval->low, 4) : "");
      cells.push_back(c && c->interval ? format_fixed(c->interval->high, 4) : "");
      cells.push_back(c && c->test_interval ? format_fixed(c->test_interval->low, 4) : "");
      cells.push_back(c && c->test_interval ? format_fixed(c->test_interval->high, 4) : "");
      cells.push_back(c && c->verdict ? to_string(*c->verdict) : "");
    }
    cells.push_back(join(splits, " "));
    out += join(cells, ",") + "\n";
    if (!row.ours || table.compare.empty()) continue;
    std::vector<std::string> delta = {csv_field(row.name + " - " + table.compare), "delta", "",
                                      row.delta_avg ? detail::signed_fixed(*row.delta_avg, 2) : "", ""};
    for (const auto& column : spec.columns) {
      if (!column.secondary_metric.empty()) {
        const auto sec = row.delta_secondary.find(column.task);
        delta.push_back(sec == row.delta_secondary.end() ? "" : detail::signed_fixed(sec->second, 2));
      }
      const auto it = row.delta.find(column.task);
      delta.push_back(it == row.delta.end() ? "" : detail::signed_fixed(it->second, 2));
      delta.insert(delta.end(), {"", "", "", "", "", "", "", "", ""});
    }
    delta.push_back(join(splits, " "));
    out += join(delta, ",") + "\n";
  }
  return out;
}

// Numbers in JSON carry the precision they are shown with (2 decimals for ours, as published otherwise).
double rounded(double value, int decimals) { return std::stod(format_fixed(value, decimals)); }

std::string render_json(const LeaderboardTable& table) {
  using nlohmann::ordered_json;
  const auto& spec = table.spec;
  ordered_json j;
  j["leaderboard"] = spec.name;
  j["title"] = spec.title;
  j["average_rule"] = spec.average_rule;
  j["columns"] = ordered_json::array();
  for (const auto& column : spec.columns) {
    ordered_json c;
    c["task"] = column.task;
    c["header"] = column.header;
    c["metric"] = column.metric;
    if (!column.secondary_metric.empty()) c["secondary_metric"] = column.secondary_metric;
    c["split"] = column.split;
    if (!column.split_note.empty()) c["split_note"] = column.split_note;
    j["columns"].push_back(c);
  }
  j["compare"] = table.compare.empty() ? ordered_json(nullptr) : ordered_json(table.compare);
  j["rows"] = ordered_json::array();
  for (const auto& row : table.rows) {
    ordered_json r;
    r["name"] = row.name;
    r["kind"] = row.ours ? "ours" : "published";
    r["params"] = row.params ? ordered_json(*row.params) : ordered_json(nullptr);
    r["params_text"] = row.params_text;
    r["avg"] = row.avg ? ordered_json(rounded(row.avg->value, row.avg->decimals)) : ordered_json(nullptr);
    if (row.partial_avg) r["partial_avg"] = rounded(*row.partial_avg, 2);
    r["avg_best"] = row.avg_best;
    ordered_json cells = ordered_json::object();
    for (const auto& column : spec.columns) {
      const auto it = row.cells.find(column.task);
      if (it == row.cells.end()) {
        cells[column.task] = nullptr;
        continue;
      }
      const auto& cell = it->second;
      ordered_json c;
      c[column.metric] = rounded(cell.main.value, cell.main.decimals);
      if (cell.secondary) c[column.secondary_metric] = rounded(cell.secondary->value, cell.secondary->decimals);
      c["best"] = cell.best;
      if (row.ours) {
        c["min"] = rounded(cell.min, 2);
        c["max"] = rounded(cell.max, 2);
        c["seeds"] = cell.seeds;
        if (cell.interval) {
          c["sd"] = rounded(cell.sd, 4);
          c["interval"] = {rounded(cell.interval->low, 4), rounded(cell.interval->high, 4)};
          c["test_interval"] = {rounded(cell.test_interval->low, 4), rounded(cell.test_interval->high, 4)};
        }
        if (cell.verdict) {
          c["published"] = *cell.published;
          c["verdict"] = to_string(*cell.verdict);
        }
      }
      cells[column.task] = c;
    }
    r["cells"] = cells;
    if (row.ours && !table.compare.empty()) {
      ordered_json delta = ordered_json::object();
      delta["avg"] = row.delta_avg ? ordered_json(rounded(*row.delta_avg, 2)) : ordered_json(nullptr);
      for (const auto& column : spec.columns) {
        const auto it = row.delta.find(column.task);
        if (it == row.delta.end()) continue;
        ordered_json d;
        d[column.metric] = rounded(it->second, 2);
        if (const auto sec = row.delta_secondary.find(column.task); sec != row.delta_secondary.end())
          d[column.secondary_metric] = rounded(sec->second, 2);
        delta[column.task] = d;
      }
      r["delta"] = delta;
    }
    if (row.ours && !verdict_summary(row).empty()) {
      r["verdict_row"] = row.verdict_row;
      r["verdicts"] = verdict_summary(row);
    }
    if (row.ours) {
      std::vector<std::string> files;
      for (const auto& f : row.files) files.push_back(f.generic_string());
      r["files"] = files;
    } else {
      r["link"] = row.link;
      r["source"] = row.source;
    }
    j["rows"].push_back(r);
  }
  j["notes"] = table.notes;
  if (table.bootstrap > 0) {
    j["bootstrap"] = {{"resamples", table.bootstrap}, {"confidence", table.confidence}};
    j["interval_notes"] = table.interval_notes;
  }
  if (!table.paired.empty()) {
    j["paired"] = ordered_json::array();
    for (const auto& c : table.paired) {
      ordered_json p;
      p["ours"] = c.ours;
      p["other"] = c.other;
      p["task"] = c.task;
      p["metric"] = c.metric;
      p["seeds_ours"] = c.seeds_ours;
      p["seeds_other"] = c.seeds_other;
      p["units"] = c.units;
      p["difference"] = c.difference;
      p["interval"] = {c.interval.low, c.interval.high};
      p["p_value"] = c.p_value;
      j["paired"].push_back(p);
    }
  }
  return j.dump(2) + "\n";
}

}  // namespace

LeaderboardFormat parse_leaderboard_format(const std::string& name) {
  if (name == "markdown" || name == "md") return LeaderboardFormat::markdown;
  if (name == "csv") return LeaderboardFormat::csv;
  if (name == "json") return LeaderboardFormat::json;
  if (name == "text" || name == "txt") return LeaderboardFormat::text;
  if (name == "html") return LeaderboardFormat::html;
  throw std::invalid_argument(fmt::format("unknown format '{}' (known: markdown, csv, json, text, html)", name));
}

std::optional<LeaderboardFormat> leaderboard_format_for(const std::filesystem::path& file) {
  const auto ext = file.extension().string();
  if (ext == ".md" || ext == ".markdown") return LeaderboardFormat::markdown;
  if (ext == ".csv") return LeaderboardFormat::csv;
  if (ext == ".json") return LeaderboardFormat::json;
  if (ext == ".txt") return LeaderboardFormat::text;
  if (ext == ".html" || ext == ".htm") return LeaderboardFormat::html;
  return std::nullopt;
}

std::string render_leaderboard(const LeaderboardTable& table, LeaderboardFormat format) {
  switch (format) {
    case LeaderboardFormat::markdown: return render_markdown(table);
    case LeaderboardFormat::csv: return render_csv(table);
    case LeaderboardFormat::json: return render_json(table);
    case LeaderboardFormat::text: return render_text(table);
    case LeaderboardFormat::html: return render_leaderboard_html(table);
  }
  throw std::invalid_argument("unknown leaderboard format");
}

void write_suite_leaderboard(const std::string& suite, const std::vector<std::filesystem::path>& run_dirs,
                             const std::filesystem::path& out_dir) {
  const auto spec = find_leaderboard_spec(suite);
  const auto table = build_leaderboard(spec, collect_results(run_dirs));
  const auto stem = out_dir / ("leaderboard_" + spec.name);
  write_file_atomic(stem.string() + ".md", render_leaderboard(table, LeaderboardFormat::markdown));
  write_file_atomic(stem.string() + ".html", render_leaderboard(table, LeaderboardFormat::html));
  write_file_atomic(stem.string() + ".json", render_leaderboard(table, LeaderboardFormat::json));
}

}  // namespace electra
