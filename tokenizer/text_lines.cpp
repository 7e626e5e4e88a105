#include "tokenizer/text_lines.h"

#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace electra {

nlohmann::json parse_json_line(const std::string& line) {
  nlohmann::json object;
  try {
    object = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(fmt::format("invalid JSON: {}", e.what()));
  }
  if (!object.is_object()) throw std::runtime_error("expected a JSON object");
  return object;
}

TextInput read_text_input(const nlohmann::json& object) {
  for (const auto& [key, value] : object.items()) {
    if (key != "text" && key != "text_pair") {
      throw std::runtime_error(fmt::format("unknown key '{}' in a text line (expected text, text_pair)", key));
    }
  }
  const auto text = object.find("text");
  if (text == object.end()) throw std::runtime_error("missing 'text'");
  if (!text->is_string()) throw std::runtime_error(fmt::format("'text' is {}, not a string", text->dump()));
  TextInput input;
  input.text = text->get<std::string>();
  const auto pair = object.find("text_pair");
  if (pair != object.end() && !pair->is_null()) {
    if (!pair->is_string()) {
      throw std::runtime_error(fmt::format("'text_pair' is {}, not a string or null", pair->dump()));
    }
    input.text_pair = pair->get<std::string>();
  }
  return input;
}

JsonLinesReader::JsonLinesReader(const std::string& path)
    : name_(path.empty() || path == "-" ? "stdin" : path), in_(&std::cin) {
  if (path.empty() || path == "-") return;
  file_.open(path, std::ios::binary);
  if (!file_) throw std::runtime_error(fmt::format("cannot read {}", path));
  in_ = &file_;
}

bool JsonLinesReader::next(std::string& line) {
  if (std::getline(*in_, line)) {
    ++lines_;
    return true;
  }
  if (in_->bad()) throw std::runtime_error(fmt::format("error reading {}", name_));
  return false;
}

std::string JsonLinesReader::fail(const std::string& reason) {
  std::string error = fmt::format("line {}: {}", lines_, reason);
  if (failed_++ == 0) first_error_ = error;
  return error;
}

void JsonLinesReader::finish(std::string_view done) const {
  if (failed_ == 0) return;
  throw std::runtime_error(fmt::format("{}: {} of {} lines could not be {} (first: {}); each has an \"error\" line in "
                                       "its place",
                                       name_, failed_, lines_, done, first_error_));
}

}  // namespace electra
