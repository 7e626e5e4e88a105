// JSON lines input of the text commands (`electra tokenize`, `electra predict`): one JSON object a line, text given
// as {"text": ..., "text_pair": ...}. A bad line is reported in its place ("line N: why") and the others still run;
// at the end one error names the file, how many lines failed and the first of them.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <fstream>
#include <istream>
#include <optional>
#include <string>
#include <string_view>

namespace electra {

struct TextInput {
  std::string text;
  std::optional<std::string> text_pair;  // absent or null: a single text

  std::optional<std::string_view> pair() const {
    return text_pair ? std::optional<std::string_view>(*text_pair) : std::nullopt;
  }
};

// One line as a JSON object; throws std::runtime_error ("invalid JSON: ...", "expected a JSON object").
nlohmann::json parse_json_line(const std::string& line);

// {"text": string, "text_pair": string or null (optional)}, no other key. Throws std::runtime_error naming the key
// and the value at fault.
TextInput read_text_input(const nlohmann::json& object);

// Reads a JSON lines file (or standard input) line by line and counts the lines that failed.
class JsonLinesReader {
 public:
  // `path`: a file, or "" / "-" for standard input. Throws std::runtime_error when the file cannot be opened.
  explicit JsonLinesReader(const std::string& path);
  JsonLinesReader(const JsonLinesReader&) = delete;
  JsonLinesReader& operator=(const JsonLinesReader&) = delete;

  // The next line into `line`; false at the end of the input. Throws std::runtime_error on a read error.
  bool next(std::string& line);
  int64_t line_number() const { return lines_; }
  // Counts the current line as failed for `reason`; returns "line N: reason", the text of its {"error"} output.
  std::string fail(const std::string& reason);
  // Throws std::runtime_error "FILE: F of N lines could not be `done` (first: line L: ...)" when a line failed.
  void finish(std::string_view done) const;

 private:
  std::string name_;  // the file, or "stdin"
  std::ifstream file_;
  std::istream* in_;
  int64_t lines_ = 0;
  int64_t failed_ = 0;
  std::string first_error_;
};

}  // namespace electra
