// Task data: the URL table (configs/data_sources.yaml), downloads with resume, archive members unpacked with
// libarchive, the MRPC split by id list, and the per-task manifest.
#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "common/files.h"
#include "common/sha256.h"
#include "common/yaml_file.h"
#include "hub/http.h"
#include "hub/hub.h"

namespace electra {
namespace fs = std::filesystem;
namespace {

struct SplitByIds {
  std::string ids_url;
  bool keep_listed = true;  // true: rows whose id pair is listed; false: the others
  std::vector<int> id_columns;
};

struct FileSource {
  std::string name, url, member, sha256;
  std::optional<SplitByIds> split;
};

struct TaskSource {
  std::string name, source;
  std::vector<FileSource> files;
};

struct SourceTable {
  fs::path file;
  std::vector<std::pair<std::string, std::vector<std::string>>> suites;
  std::vector<TaskSource> tasks;

  const TaskSource* find(const std::string& name) const {
    for (const auto& task : tasks) {
      if (task.name == name) return &task;
    }
    return nullptr;
  }
  std::string known_names() const {
    std::vector<std::string> names;
    for (const auto& [suite, members] : suites) names.push_back(suite);
    for (const auto& task : tasks) names.push_back(task.name);
    return fmt::format("{}", fmt::join(names, ", "));
  }
};

std::string canonical_name(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return c == '_' ? '-' : std::tolower(c); });
  return name;
}

bool safe_relative(const std::string& path) {
  if (path.empty() || path[0] == '/' || path.find('\\') != std::string::npos) return false;
  for (const auto& part : fs::path(path)) {
    if (part == ".." || part == ".") return false;
  }
  return true;
}

SourceTable load_sources(const fs::path& file) {
  const YAML::Node root = load_yaml_file(file);
  const YamlReader yaml(file);
  yaml.check_keys(root, "", {"suites", "tasks"});
  SourceTable table;
  table.file = file;
  const YAML::Node tasks = yaml.require(root, "", "tasks");
  if (!tasks.IsMap()) yaml.fail(tasks, "tasks", "expected a mapping of task names");
  for (const auto& item : tasks) {
    TaskSource task;
    task.name = item.first.as<std::string>();
    const std::string where = "tasks." + task.name;
    const YAML::Node body = item.second;
    yaml.check_keys(body, where, {"source", "note", "files"});
    task.source = yaml.string_at(yaml.require(body, where, "source"), where + ".source");
    const YAML::Node files = yaml.require(body, where, "files");
    if (!files.IsSequence() || files.size() == 0) yaml.fail(files, where + ".files", "expected a non-empty list");
    for (size_t i = 0; i < files.size(); ++i) {
      const YAML::Node entry = files[i];
      const std::string at = fmt::format("{}.files[{}]", where, i);
      yaml.check_keys(entry, at, {"name", "url", "member", "sha256", "split_by_ids", "note"});
      FileSource source;
      source.name = yaml.string_at(yaml.require(entry, at, "name"), at + ".name");
      source.url = yaml.string_at(yaml.require(entry, at, "url"), at + ".url");
      if (source.name.find('/') != std::string::npos || !safe_relative(source.name)) {
        yaml.fail(entry["name"], at + ".name", fmt::format("file name '{}' must be a plain file name", source.name));
      }
      source.member = yaml.optional_string(entry, at, "member");
      if (!source.member.empty() && !safe_relative(source.member)) {
        yaml.fail(entry["member"], at + ".member",
                  fmt::format("archive member '{}' must be a relative path without '..'", source.member));
      }
      source.sha256 = yaml.optional_string(entry, at, "sha256");
      if (!source.sha256.empty() && !is_sha256_hex(source.sha256)) {
        yaml.fail(entry["sha256"], at + ".sha256", fmt::format("bad sha256 '{}'", source.sha256));
      }
      if (const YAML::Node split = entry["split_by_ids"]) {
        const std::string in = at + ".split_by_ids";
        yaml.check_keys(split, in, {"ids_url", "keep", "id_columns"});
        SplitByIds rule;
        rule.ids_url = yaml.string_at(yaml.require(split, in, "ids_url"), in + ".ids_url");
        const YAML::Node keep = yaml.require(split, in, "keep");
        const std::string keep_text = yaml.string_at(keep, in + ".keep");
        if (keep_text != "listed" && keep_text != "unlisted") {
          yaml.fail(keep, in + ".keep", fmt::format("must be 'listed' or 'unlisted', not '{}'", keep_text));
        }
        rule.keep_listed = keep_text == "listed";
        rule.id_columns = yaml.ints_at(yaml.require(split, in, "id_columns"), in + ".id_columns",
                                       "a list of 0-based column indices");
        if (!source.member.empty()) yaml.fail(split, in, "cannot be combined with member");
        source.split = rule;
      }
      task.files.push_back(std::move(source));
    }
    table.tasks.push_back(std::move(task));
  }
  if (const YAML::Node suites = root["suites"]) {
    if (!suites.IsMap()) yaml.fail(suites, "suites", "expected a mapping of suite names to task lists");
    for (const auto& item : suites) {
      const auto name = item.first.as<std::string>();
      const auto members = yaml.strings_at(item.second, "suites." + name, "a list of task names");
      for (const auto& member : members) {
        if (!table.find(member)) yaml.fail(item.second, "suites." + name, fmt::format("unknown task '{}'", member));
      }
      table.suites.emplace_back(name, members);
    }
  }
  return table;
}

fs::path sources_path(const DataOptions& options) {
  return options.sources_file.empty() ? fs::path(ELECTRA_SOURCE_DIR) / "configs" / "data_sources.yaml"
                                      : options.sources_file;
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string url_basename(const std::string& url) {
  std::string path = url.substr(0, url.find_first_of("?#"));
  std::string base = path.substr(path.find_last_of('/') + 1);
  for (char& c : base) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) c = '_';
  }
  return base.empty() || base == "." || base == ".." ? "download" : base;
}

// Moves a finished temporary file over its destination.
void commit_file(const fs::path& tmp, const fs::path& dest) {
  std::error_code ec;
  fs::rename(tmp, dest, ec);
  if (ec) {
    fs::remove(tmp);
    throw std::runtime_error(fmt::format("cannot move {} to {}: {}", tmp.string(), dest.string(), ec.message()));
  }
}

class TaskDownloader {
 public:
  TaskDownloader(const TaskSource& task, const fs::path& data_dir, const DataOptions& options, const SourceTable& table)
      : task_(task),
        options_(options),
        table_(table.file),
        tasks_(table.tasks),
        data_dir_(data_dir),
        dir_(data_dir / task.name),
        downloads_(data_dir / ".downloads") {}

  DataManifest run();

 private:
  fs::path fetch(const std::string& url, const std::string& for_file);
  void extract(const fs::path& archive, const std::string& url, const std::vector<const FileSource*>& files);
  void split(const fs::path& source, const fs::path& ids, const FileSource& file);
  bool reuse_from_sibling(const FileSource& file);
  void say(const std::string& line) const {
    if (!options_.quiet) fmt::print(stderr, "{}\n", line);
  }

  const TaskSource& task_;
  DataOptions options_;
  fs::path table_;
  const std::vector<TaskSource>& tasks_;
  fs::path data_dir_, dir_, downloads_;
  std::vector<fs::path> scratch_;  // downloads to delete once everything is in place
};

fs::path TaskDownloader::fetch(const std::string& url, const std::string& for_file) {
  const fs::path local = downloads_ / (task_.name + "--" + url_basename(url));
  if (fs::exists(local)) return local;
  fs::create_directories(downloads_);
  say(fmt::format("downloading {} ({} of task {})", url, for_file, task_.name));
  http::DownloadSpec spec;
  spec.request.url = url;
  spec.request.follow_redirects = true;
  spec.request.connect_timeout_s = options_.connect_timeout_s;
  spec.request.stall_timeout_s = options_.stall_timeout_s;
  spec.incomplete = local.string() + ".incomplete";
  spec.label = url_basename(url);
  spec.max_retries = options_.max_retries;
  spec.retry_delay_ms = options_.retry_delay_ms;
  spec.progress = options_.progress;
  http::Response response;
  try {
    response = http::download(spec);
  } catch (const http::NetworkError& e) {
    throw std::runtime_error(fmt::format(
        "{} while downloading {} for task {}: check the network connection (and proxy settings), or place the "
        "task's files in {} by hand",
        e.what(), for_file, task_.name, dir_.string()));
  }
  if (response.status < 200 || response.status >= 300) {
    std::error_code ec;
    if (fs::file_size(spec.incomplete, ec) == 0) fs::remove(spec.incomplete, ec);
    const std::string advice =
        response.status == 404 || response.status == 410
            ? fmt::format("the publisher may have moved it: fix the entry of task '{}' in {}", task_.name, table_.string())
            : response.status == 401 || response.status == 403 ? std::string("the publisher refuses access")
                                                                 : std::string("try again later");
    throw std::runtime_error(fmt::format("{} answered HTTP {} for {} of task {}: {}", url, response.status, for_file,
                                         task_.name, advice));
  }
  commit_file(spec.incomplete, local);
  return local;
}

void TaskDownloader::extract(const fs::path& archive_file, const std::string& url,
                             const std::vector<const FileSource*>& files) {
  std::map<std::string, const FileSource*> wanted;
  for (const auto* file : files) wanted[file->member] = file;
  struct archive* reader = archive_read_new();
  archive_read_support_filter_all(reader);
  archive_read_support_format_all(reader);
  const auto fail = [&](const std::string& what) {
    const std::string reason = archive_error_string(reader) ? archive_error_string(reader) : "unknown error";
    archive_read_free(reader);
    // A damaged archive must not be reused by the next run.
    std::error_code ec;
    fs::remove(archive_file, ec);
    throw std::runtime_error(fmt::format("cannot {} {} (from {}): {}; it was deleted, run again to download it again",
                                         what, archive_file.string(), url, reason));
  };
  if (archive_read_open_filename(reader, archive_file.c_str(), 1 << 16) != ARCHIVE_OK) fail("open archive");
  std::vector<std::string> entries;
  std::set<std::string> found;
  struct archive_entry* entry = nullptr;
  int status = ARCHIVE_OK;
  while ((status = archive_read_next_header(reader, &entry)) == ARCHIVE_OK) {
    const char* raw = archive_entry_pathname(entry);
    std::string path = raw ? raw : "";
    while (path.rfind("./", 0) == 0) path = path.substr(2);
    if (entries.size() < 12) entries.push_back(path);
    const auto it = wanted.find(path);
    if (it == wanted.end() || found.count(path)) continue;
    if (archive_entry_filetype(entry) != AE_IFREG) {
      archive_read_free(reader);
      throw std::runtime_error(fmt::format("member {} of {} is not a regular file: refusing it", path, url));
    }
    const fs::path dest = dir_ / it->second->name;
    const fs::path tmp = dest.string() + ".tmp";
    std::FILE* out = std::fopen(tmp.c_str(), "wb");
    if (!out) {
      archive_read_free(reader);
      throw std::runtime_error(fmt::format("cannot write {}: {}", tmp.string(), std::strerror(errno)));
    }
    const void* block = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    int r = ARCHIVE_OK;
    int64_t written = 0;
    bool write_ok = true;
    while ((r = archive_read_data_block(reader, &block, &size, &offset)) == ARCHIVE_OK) {
      if (offset != written) {  // a sparse hole: fill it
        std::vector<char> zeros(static_cast<size_t>(offset - written), 0);
        write_ok = write_ok && std::fwrite(zeros.data(), 1, zeros.size(), out) == zeros.size();
        written = offset;
      }
      write_ok = write_ok && std::fwrite(block, 1, size, out) == size;
      written += static_cast<int64_t>(size);
    }
    const int write_errno = errno;
    write_ok = std::fclose(out) == 0 && write_ok;
    if (r != ARCHIVE_EOF) {
      fs::remove(tmp);
      fail(fmt::format("unpack {} from", path));
    }
    if (!write_ok) {
      fs::remove(tmp);
      archive_read_free(reader);
      throw std::runtime_error(fmt::format("cannot write {}: {}", tmp.string(), std::strerror(write_errno)));
    }
    commit_file(tmp, dest);
    found.insert(path);
  }
  if (status != ARCHIVE_EOF) fail("read archive");
  archive_read_free(reader);
  std::vector<std::string> absent;
  for (const auto& [member, file] : wanted) {
    if (!found.count(member)) absent.push_back(member);
  }
  if (!absent.empty()) {
    throw std::runtime_error(fmt::format(
        "{} (from {}) has no {}; its first entries are: {}; fix the members of task '{}' in {}", archive_file.string(),
        url, fmt::join(absent, ", "), fmt::join(entries, ", "), task_.name, table_.string()));
  }
}

std::string strip(const std::string& text) {
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  const auto begin = std::find_if(text.begin(), text.end(), not_space);
  const auto end = std::find_if(text.rbegin(), text.rend(), not_space).base();
  return begin < end ? std::string(begin, end) : std::string();
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1) out.push_back(line.substr(start, tab - start));
  out.push_back(line.substr(start));
  return out;
}

// GLUE's MRPC recipe: rows of the source whose id pair is (or is not) in the id list, after the header line.
void TaskDownloader::split(const fs::path& source, const fs::path& ids_file, const FileSource& file) {
  const auto& rule = *file.split;
  std::set<std::vector<std::string>> listed;
  {
    std::ifstream ids(ids_file);
    std::string line;
    while (std::getline(ids, line)) {
      const std::string row = strip(line);
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
    std::string row = strip(line);
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
                                             file.url, line_no, columns.size(), c));
      }
      key.push_back(columns[static_cast<size_t>(c)]);
    }
    if (static_cast<bool>(listed.count(key)) == rule.keep_listed) out += row + "\n";
  }
  write_file_atomic(dir_ / file.name, out);
}

// Copies (hard-links when possible) a file another task took from the same URL and member, if it has it.
bool TaskDownloader::reuse_from_sibling(const FileSource& file) {
  if (file.split) return false;
  for (const auto& other : tasks_) {
    if (other.name == task_.name) continue;
    for (const auto& candidate : other.files) {
      if (candidate.url != file.url || candidate.member != file.member || candidate.split) continue;
      const fs::path source = data_dir_ / other.name / candidate.name;
      if (!fs::is_regular_file(source)) continue;
      const fs::path dest = dir_ / file.name;
      const fs::path tmp = dest.string() + ".tmp";
      fs::create_directories(dir_);
      std::error_code ec;
      fs::remove(tmp, ec);
      fs::create_hard_link(source, tmp, ec);
      if (ec) fs::copy_file(source, tmp, fs::copy_options::overwrite_existing);
      commit_file(tmp, dest);
      say(fmt::format("{} of task {}: taken from {}", file.name, task_.name, source.string()));
      return true;
    }
  }
  return false;
}

DataManifest TaskDownloader::run() {
  DataManifest manifest;
  manifest.task = task_.name;
  manifest.dir = dir_;
  const fs::path manifest_file = dir_ / "manifest.json";
  std::map<std::string, DataFileRecord> known;
  if (fs::is_regular_file(manifest_file)) {
    try {
      const auto json = nlohmann::json::parse(read_file(manifest_file));
      for (const auto& item : json.at("files")) {
        DataFileRecord record;
        record.name = item.at("name").get<std::string>();
        record.url = item.value("url", "");
        record.member = item.value("member", "");
        record.size = item.at("size").get<int64_t>();
        record.sha256 = item.at("sha256").get<std::string>();
        record.date = item.value("date", "");
        known[record.name] = record;
      }
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(fmt::format("bad manifest {}: {} (delete it to rebuild it)", manifest_file.string(), e.what()));
    }
  }
  std::vector<const FileSource*> missing;
  for (const auto& file : task_.files) {
    if (!fs::is_regular_file(dir_ / file.name)) missing.push_back(&file);
  }
  const std::string now = utc_now();
  if (!missing.empty() && options_.offline) {
    std::vector<std::string> lines;
    for (const auto* file : missing) lines.push_back(fmt::format("{} (from {})", file->name, file->url));
    throw std::runtime_error(fmt::format("task data for {} is missing in {} and downloads are off (--offline): {}; "
                                         "run `electra download data {}` where there is network, or place the files there",
                                         task_.name, dir_.string(), fmt::join(lines, ", "), task_.name));
  }
  for (auto it = missing.begin(); it != missing.end();) {
    if (!reuse_from_sibling(**it)) {
      ++it;
      continue;
    }
    DataFileRecord record;
    record.name = (*it)->name;
    record.url = (*it)->url;
    record.member = (*it)->member;
    record.date = now;
    known[record.name] = record;
    manifest.downloaded.push_back(record.name);
    it = missing.erase(it);
  }
  if (!missing.empty()) fs::create_directories(dir_);
  // One download per URL, whatever number of files it gives.
  std::vector<std::string> urls;
  for (const auto* file : missing) {
    if (std::find(urls.begin(), urls.end(), file->url) == urls.end()) urls.push_back(file->url);
  }
  for (const auto& url : urls) {
    std::vector<const FileSource*> members, plain;
    for (const auto* file : missing) {
      if (file->url != url) continue;
      (file->member.empty() ? plain : members).push_back(file);
    }
    const fs::path local = fetch(url, (members.empty() ? plain : members).front()->name);
    scratch_.push_back(local);
    if (!members.empty()) extract(local, url, members);
    for (const auto* file : plain) {
      if (file->split) {
        const fs::path ids = fetch(file->split->ids_url, file->name + " (id list)");
        scratch_.push_back(ids);
        split(local, ids, *file);
      } else {
        const fs::path tmp = (dir_ / file->name).string() + ".tmp";
        fs::copy_file(local, tmp, fs::copy_options::overwrite_existing);
        commit_file(tmp, dir_ / file->name);
      }
    }
    for (const auto* file : missing) {
      if (file->url != url) continue;
      DataFileRecord record;
      record.name = file->name;
      record.url = url;
      record.member = file->member;
      record.date = now;
      known[file->name] = record;  // size and sha256 filled below
      manifest.downloaded.push_back(file->name);
    }
  }
  bool changed = !manifest.downloaded.empty();
  for (const auto& file : task_.files) {
    const fs::path path = dir_ / file.name;
    const int64_t size = static_cast<int64_t>(fs::file_size(path));
    auto it = known.find(file.name);
    if (it == known.end()) {
      DataFileRecord record;  // placed there by hand: recorded without a URL, dated when first seen
      record.name = file.name;
      record.date = now;
      it = known.emplace(file.name, record).first;
    }
    DataFileRecord& record = it->second;
    if (record.sha256.empty() || record.size != size) {
      record.size = size;
      record.sha256 = sha256_file(path);
      changed = true;
    }
    if (!file.sha256.empty() && record.sha256 != file.sha256) {
      fs::remove(path);
      std::error_code ec;
      fs::remove(manifest_file, ec);
      throw std::runtime_error(fmt::format(
          "{} of task {} has sha256 {} but {} expects {}; the file was deleted: run again to download it again",
          file.name, task_.name, record.sha256, table_.string(), file.sha256));
    }
    manifest.files.push_back(record);
  }
  if (changed) {
    nlohmann::json json;
    json["task"] = task_.name;
    json["source"] = task_.source;
    json["files"] = nlohmann::json::array();
    for (const auto& record : manifest.files) {
      nlohmann::json item = {{"name", record.name}, {"size", record.size}, {"sha256", record.sha256}, {"date", record.date}};
      item["url"] = record.url.empty() ? nlohmann::json(nullptr) : nlohmann::json(record.url);
      if (!record.member.empty()) item["member"] = record.member;
      json["files"].push_back(item);
    }
    write_file_atomic(manifest_file, json.dump(2) + "\n");
  }
  for (const auto& path : scratch_) {
    std::error_code ec;
    fs::remove(path, ec);
  }
  std::error_code ec;
  if (fs::is_directory(downloads_) && fs::is_empty(downloads_, ec)) fs::remove(downloads_, ec);
  return manifest;
}

}  // namespace

fs::path default_data_dir() {
  if (const char* dir = std::getenv("ELECTRA_DATA"); dir && *dir) return dir;
  const char* home = std::getenv("HOME");
  if (!home || !*home) throw std::invalid_argument("cannot find the data directory: set ELECTRA_DATA or HOME, or pass --data-dir");
  return fs::path(home) / ".cache" / "electra" / "data";
}

std::vector<std::string> expand_data_targets(const std::string& task_or_suite, const DataOptions& options) {
  const SourceTable table = load_sources(sources_path(options));
  const std::string name = canonical_name(task_or_suite);
  for (const auto& [suite, members] : table.suites) {
    if (suite == name) return members;
  }
  if (name == "all") {
    std::vector<std::string> all;
    for (const auto& task : table.tasks) all.push_back(task.name);
    return all;
  }
  if (table.find(name)) return {name};
  throw std::invalid_argument(fmt::format("unknown task or suite '{}' in {} (known: {}, all)", task_or_suite,
                                          table.file.string(), table.known_names()));
}

DataManifest ensure_task_data(const std::string& task, const fs::path& data_dir, const DataOptions& options) {
  const SourceTable table = load_sources(sources_path(options));
  const TaskSource* source = table.find(canonical_name(task));
  if (!source) {
    throw std::invalid_argument(fmt::format("no download sources for task '{}' in {} (known: {})", task,
                                            table.file.string(), table.known_names()));
  }
  return TaskDownloader(*source, data_dir, options, table).run();
}

std::vector<DataFileRecord> task_data_sources(const std::string& task, const DataOptions& options) {
  const SourceTable table = load_sources(sources_path(options));
  const TaskSource* source = table.find(canonical_name(task));
  if (!source) {
    throw std::invalid_argument(fmt::format("no download sources for task '{}' in {} (known: {})", task,
                                            table.file.string(), table.known_names()));
  }
  std::vector<DataFileRecord> records;
  for (const auto& file : source->files) {
    DataFileRecord record;
    record.name = file.name;
    record.url = file.url;
    record.member = file.member;
    records.push_back(record);
  }
  return records;
}

}  // namespace electra
