// Unpacking the files a task needs from a downloaded archive (any format libarchive reads), one temporary file
// each, moved into place once whole.
#pragma once

#include <filesystem>
#include <map>
#include <string>

namespace electra {

// Writes each member of `archive` named in `members` (path inside the archive -> destination file). `url` names
// where the archive came from and `fix` what to do when a member is missing, in messages. Throws
// std::runtime_error when the archive cannot be read (it is then deleted, for the next run to download it again),
// a member is not a regular file, a destination cannot be written, or a member is missing (naming the archive's
// first entries).
void extract_members(const std::filesystem::path& archive, const std::string& url,
                     const std::map<std::string, std::filesystem::path>& members, const std::string& fix);

}  // namespace electra
