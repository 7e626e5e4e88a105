// Reading upstream dataset files the way they are published: a UTF-8 BOM, CRLF line ends and trailing empty
// lines are tolerated; rows are split on tabs (optionally with CSV quoting); the bad-row policy is shared.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/task.h"

namespace electra {

struct TextRow {
  int64_t line = 0;  // 1-based line where the record starts
  std::vector<std::string> cells;
  bool unterminated_quote = false;  // a quoted cell ran to the end of the file
};

// File content without a leading UTF-8 BOM.
std::string read_text_file(const std::filesystem::path& file);

// Splits `content` from byte `begin` (at line `first_line`) into tab-separated rows, one per line; a CR before
// the LF is dropped and empty lines at the end of the file are ignored (empty lines elsewhere are rows with one
// empty cell). `quoted`: cells may be wrapped in double quotes ("" inside is one quote; tabs and line breaks
// inside quotes belong to the cell), as Python's csv module reads them.
std::vector<TextRow> split_rows(std::string_view content, size_t begin, int64_t first_line, bool quoted);

// Where `text` is not valid UTF-8 ("invalid UTF-8 byte 0xff at byte 3"), or nothing when it is.
std::optional<std::string> utf8_problem(std::string_view text);
// True when the text holds nothing but whitespace.
bool is_blank(std::string_view text);
std::string trim_ascii(std::string_view text);
// A cell as it is shown in error messages: quoted, cut to 60 bytes at a character boundary.
std::string quote_value(std::string_view text);

// The bad-row policy of one file read: a bad row throws std::runtime_error("<file>:<line>: <problem>") unless
// skip_bad_rows is set, in which case it is counted and reported. finish() adds the summary warnings.
class RowPolicy {
 public:
  RowPolicy(std::filesystem::path file, const ReadOptions& options, ReadResult& result);
  void bad_row(int64_t line, const std::string& problem);
  // The same for a record that has no line of its own (a JSON entry named by its path).
  void bad_entry(const std::string& location, const std::string& problem);
  // Rows known to be malformed upstream (QQP): always skipped, counted as bad rows and reported.
  void malformed_row(int64_t line, const std::string& problem);
  // Rows the published setup drops on purpose (PAWS placeholders): counted and reported.
  void dropped_by_rule(int64_t line, const std::string& why);
  // The same for a record named by its path (a KorQuAD question).
  void dropped_entry(const std::string& location, const std::string& why);
  // A row kept although its text in `column` is empty (the published readers read it as the empty text):
  // counted and reported.
  void empty_text(int64_t line, const std::string& column);
  void finish();
  std::string where(int64_t line) const;  // "<file>:<line>"

 private:
  std::filesystem::path file_;
  ReadOptions options_;
  ReadResult& result_;
  std::vector<std::string> bad_examples_, rule_examples_, empty_examples_;
};

}  // namespace electra
