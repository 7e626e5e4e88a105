#include "tasks/text_file.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <utf8proc.h>

#include <stdexcept>
#include <utility>

#include "common/files.h"
#include "common/utf8.h"

namespace electra {

std::string read_text_file(const std::filesystem::path& file) {
  std::string content = read_file(file);
  if (content.compare(0, 3, "\xEF\xBB\xBF") == 0) content.erase(0, 3);
  return content;
}

std::vector<TextRow> split_rows(std::string_view content, size_t begin, int64_t first_line, bool quoted) {
  std::vector<TextRow> rows;
  int64_t line = first_line;
  size_t pos = begin;
  while (pos < content.size()) {
    TextRow row;
    row.line = line;
    std::string cell;
    bool in_quotes = false, cell_started = false;
    while (pos < content.size()) {
      const char c = content[pos];
      if (in_quotes) {
        if (c == '"') {
          if (pos + 1 < content.size() && content[pos + 1] == '"') {
            cell.push_back('"');
            pos += 2;
            continue;
          }
          in_quotes = false;
          ++pos;
          continue;
        }
        if (c == '\n') ++line;
        cell.push_back(c);
        ++pos;
        continue;
      }
      if (c == '\n') break;
      if (c == '\t') {
        row.cells.push_back(std::move(cell));
        cell.clear();
        cell_started = false;
        ++pos;
        continue;
      }
      if (quoted && c == '"' && !cell_started) {
        in_quotes = cell_started = true;
        ++pos;
        continue;
      }
      cell.push_back(c);
      cell_started = true;
      ++pos;
    }
    if (!cell.empty() && cell.back() == '\r' && !in_quotes) cell.pop_back();  // CR of a CRLF line end
    row.unterminated_quote = in_quotes;
    row.cells.push_back(std::move(cell));
    rows.push_back(std::move(row));
    ++pos;  // the '\n'
    ++line;
  }
  // Trailing empty lines are not rows.
  while (!rows.empty() && rows.back().cells.size() == 1 && rows.back().cells[0].empty()) rows.pop_back();
  return rows;
}

std::optional<std::string> utf8_problem(std::string_view text) {
  const size_t bad = utf8::find_invalid(text);
  if (bad == text.size()) return std::nullopt;
  const unsigned byte = static_cast<unsigned char>(text[bad]);
  return fmt::format("invalid UTF-8 byte 0x{:02x} at byte {}", byte, bad);
}

bool is_blank(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    const size_t n = utf8::decode(text, i, cp);
    if (n == 0) return false;
    const bool space = cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' ||
                       utf8proc_category(static_cast<utf8proc_int32_t>(cp)) == UTF8PROC_CATEGORY_ZS;
    if (!space) return false;
    i += n;
  }
  return true;
}

std::string trim_ascii(std::string_view text) {
  const char* ws = " \t\r\n\v\f";
  const auto b = text.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  const auto e = text.find_last_not_of(ws);
  return std::string(text.substr(b, e - b + 1));
}

std::string quote_value(std::string_view text) {
  if (text.size() <= 60) return fmt::format("'{}'", text);
  size_t cut = 60;
  while (cut > 0 && utf8::is_continuation(static_cast<unsigned char>(text[cut]))) --cut;
  return fmt::format("'{}...'", text.substr(0, cut));
}

RowPolicy::RowPolicy(std::filesystem::path file, const ReadOptions& options, ReadResult& result)
    : file_(std::move(file)), options_(options), result_(result) {}

std::string RowPolicy::where(int64_t line) const { return fmt::format("{}:{}", file_.string(), line); }

void RowPolicy::bad_row(int64_t line, const std::string& problem) {
  if (!options_.skip_bad_rows)
    throw std::runtime_error(
        fmt::format("{}: {} ({} to skip and count such rows)", where(line), problem, options_.skip_hint));
  ++result_.skipped_bad_rows;
  if (bad_examples_.size() < 3) bad_examples_.push_back(fmt::format("line {}: {}", line, problem));
}

void RowPolicy::bad_entry(const std::string& location, const std::string& problem) {
  if (!options_.skip_bad_rows)
    throw std::runtime_error(fmt::format("{}: {}: {} ({} to skip and count such entries)", file_.string(), location,
                                         problem, options_.skip_hint));
  ++result_.skipped_bad_rows;
  if (bad_examples_.size() < 3) bad_examples_.push_back(fmt::format("{}: {}", location, problem));
}

void RowPolicy::malformed_row(int64_t line, const std::string& problem) {
  ++result_.skipped_bad_rows;
  if (bad_examples_.size() < 3) bad_examples_.push_back(fmt::format("line {}: {}", line, problem));
}

void RowPolicy::dropped_by_rule(int64_t line, const std::string& why) {
  ++result_.skipped_by_rule;
  if (rule_examples_.size() < 3) rule_examples_.push_back(fmt::format("line {}: {}", line, why));
}

void RowPolicy::dropped_entry(const std::string& location, const std::string& why) {
  ++result_.skipped_by_rule;
  if (rule_examples_.size() < 3) rule_examples_.push_back(fmt::format("{}: {}", location, why));
}

void RowPolicy::empty_text(int64_t line, const std::string& column) {
  ++result_.empty_texts;
  if (empty_examples_.size() < 3) empty_examples_.push_back(fmt::format("line {}: '{}'", line, column));
}

void RowPolicy::finish() {
  if (result_.skipped_bad_rows > 0)
    result_.warnings.push_back(fmt::format("{}: skipped {} bad row(s) ({}{})", file_.string(),
                                           result_.skipped_bad_rows, fmt::join(bad_examples_, "; "),
                                           result_.skipped_bad_rows > 3 ? "; ..." : ""));
  if (result_.skipped_by_rule > 0)
    result_.warnings.push_back(fmt::format("{}: dropped {} row(s) as the published setup does ({}{})",
                                           file_.string(), result_.skipped_by_rule,
                                           fmt::join(rule_examples_, "; "), result_.skipped_by_rule > 3 ? "; ..." : ""));
  if (result_.empty_texts > 0)
    result_.warnings.push_back(fmt::format("{}: kept {} empty text(s), read as the empty text as the published "
                                           "setup does ({}{})",
                                           file_.string(), result_.empty_texts, fmt::join(empty_examples_, "; "),
                                           result_.empty_texts > 3 ? "; ..." : ""));
}

}  // namespace electra
