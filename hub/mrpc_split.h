// GLUE's MRPC recipe: the train and dev files are carved from one published file by a list of id pairs (the
// `split_by_ids` entry of the URL table).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace electra {

struct SplitByIds {
  std::string ids_url;
  bool keep_listed = true;  // true: rows whose id pair is listed; false: the others
  std::vector<int> id_columns;
};

// Writes to `dest` the header line of `source` (without a UTF-8 BOM) and its rows whose id columns are (or, with
// keep_listed false, are not) a row of the tab-separated `ids` file. Throws std::runtime_error for an empty id list
// or a row without an id column ("SOURCE_URL:LINE: ...").
void split_by_ids(const std::filesystem::path& source, const std::filesystem::path& ids, const SplitByIds& rule,
                  const std::string& source_url, const std::filesystem::path& dest);

}  // namespace electra
