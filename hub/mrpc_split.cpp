#include "hub/mrpc_split.h"

#include <fmt/format.h>

#include <cstdint>
#include <fstream>
#include <set>
#include <stdexcept>

#include "common/files.h"
#include "tasks/text_file.h"

namespace electra {
namespace {

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1) out.push_back(line.substr(start, tab - start));
  out.push_back(line.substr(start));
  return out;
}

}  // namespace

void split_by_ids(const std::filesystem::path& source, const std::filesystem::path& ids_file, const SplitByIds& rule,
                  const std::string& source_url, const std::filesystem::path& dest) {
  std::set<std::vector<std::string>> listed;
  {
    std::ifstream ids(ids_file);
    std::string line;
    while (std::getline(ids, line)) {
      const std::string row = trim_ascii(line);
      if (!row.empty()) listed.insert(split_tabs(row));
    }
  }
  if (listed.empty()) throw std::runtime_error(fmt::format("id list {} is empty", rule.ids_url));
  std::ifstream in(source, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("cannot read {}", source.string()));
  std::string out, line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    std::string row = trim_ascii(line);
    if (line_no == 1) {
      if (row.rfind("\xEF\xBB\xBF", 0) == 0) row = row.substr(3);  // UTF-8 byte order mark
      out += row + "\n";
      continue;
    }
    if (row.empty()) continue;
    const auto columns = split_tabs(row);
    std::vector<std::string> key;
    for (int c : rule.id_columns) {
      if (c < 0 || static_cast<size_t>(c) >= columns.size()) {
        throw std::runtime_error(fmt::format("{}:{}: row has {} columns, the id column {} is missing",
                                             source_url, line_no, columns.size(), c));
      }
      key.push_back(columns[static_cast<size_t>(c)]);
    }
    if (static_cast<bool>(listed.count(key)) == rule.keep_listed) out += row + "\n";
  }
  write_file_atomic(dest, out);
}

}  // namespace electra
