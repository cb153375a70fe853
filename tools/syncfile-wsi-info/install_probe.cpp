// The installation: every manifest naming VK_LAYER_SYNCFILE_wsi that the Vulkan loader (1.3.x, Linux)
// would find, in its documented search order, and whether this environment enables it. The loader has
// no API for this; VK_LOADER_DEBUG=layer shows what it really did.
#include "info.hpp"

#include <dirent.h>
#include <dlfcn.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace sfw::info {
namespace {

constexpr const char *kLayerName = "VK_LAYER_SYNCFILE_wsi";

std::string env(const char *name) {
  const char *v = secure_getenv(name); // the loader ignores these when setuid, too
  return v != nullptr ? v : "";
}
bool env_set(const char *name) { return secure_getenv(name) != nullptr; }

std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

// The loader's system search path: config dirs, then SYSCONFDIR, then data dirs; each + vulkan/<kind>.
std::vector<std::string> system_dirs(const char *kind) {
  std::string home = env("HOME");
  std::vector<std::string> bases;
  std::string config_home = env("XDG_CONFIG_HOME");
  if (config_home.empty() && !home.empty()) config_home = home + "/.config";
  if (!config_home.empty()) bases.push_back(config_home);
  std::string config_dirs = env("XDG_CONFIG_DIRS");
  for (const std::string &d : split(config_dirs.empty() ? "/etc/xdg" : config_dirs, ':')) bases.push_back(d);
  bases.push_back("/etc");
  std::string data_home = env("XDG_DATA_HOME");
  if (data_home.empty() && !home.empty()) data_home = home + "/.local/share";
  if (!data_home.empty()) bases.push_back(data_home);
  std::string data_dirs = env("XDG_DATA_DIRS");
  for (const std::string &d : split(data_dirs.empty() ? "/usr/local/share:/usr/share" : data_dirs, ':')) bases.push_back(d);
  std::vector<std::string> dirs;
  for (const std::string &b : bases) dirs.push_back(b + "/vulkan/" + kind);
  return dirs;
}

// A JSON string value after "key" (our manifest's keys are unique); "" when absent.
std::string json_string(const std::string &text, const std::string &key, size_t from = 0) {
  size_t k = text.find("\"" + key + "\"", from);
  if (k == std::string::npos) return "";
  size_t colon = text.find(':', k + key.size() + 2);
  size_t open = colon == std::string::npos ? colon : text.find('"', colon);
  if (open == std::string::npos) return "";
  std::string out;
  for (size_t i = open + 1; i < text.size() && text[i] != '"'; ++i) out += text[i] == '\\' && i + 1 < text.size() ? text[++i] : text[i];
  return out;
}

// {"NAME": "VALUE"} after "key": NAME into *name, VALUE into *value.
void json_env(const std::string &text, const std::string &key, std::string *name, std::string *value) {
  size_t k = text.find("\"" + key + "\"");
  if (k == std::string::npos) return;
  size_t brace = text.find('{', k);
  size_t q = brace == std::string::npos ? brace : text.find('"', brace);
  if (q == std::string::npos) return;
  size_t end = text.find('"', q + 1);
  if (end == std::string::npos) return;
  *name = text.substr(q + 1, end - q - 1);
  *value = json_string(text, *name, q);
}

bool library_found(const std::string &manifest_path, const std::string &lib) {
  if (lib.empty()) return false;
  if (lib.find('/') != std::string::npos) {
    std::string path = lib[0] == '/' ? lib : manifest_path.substr(0, manifest_path.rfind('/') + 1) + lib;
    return access(path.c_str(), R_OK) == 0;
  }
  void *handle = dlopen(lib.c_str(), RTLD_LAZY | RTLD_LOCAL); // a bare name: the dynamic linker's search
  if (handle != nullptr) dlclose(handle);
  return handle != nullptr;
}

// VK_LOADER_LAYERS_ENABLE / _DISABLE: comma-separated globs, plus ~all~, ~implicit~, ~explicit~.
bool filter_matches(const char *var, bool implicit) {
  for (const std::string &f : split(env(var), ',')) {
    if (f == "~all~" || (f == "~implicit~" && implicit) || (f == "~explicit~" && !implicit)) return true;
    if (fnmatch(f.c_str(), kLayerName, FNM_CASEFOLD) == 0) return true;
  }
  return false;
}

void decide_enabled(Manifest *m) {
  bool forced_on = filter_matches("VK_LOADER_LAYERS_ENABLE", m->implicit);
  bool forced_off = filter_matches("VK_LOADER_LAYERS_DISABLE", m->implicit);
  bool listed = false;
  for (const std::string &n : split(env("VK_INSTANCE_LAYERS"), ':')) listed |= n == kLayerName;
  if (m->implicit && !m->disable_env.empty() && env_set(m->disable_env.c_str())) {
    m->enabled = false;
    m->why = m->disable_env + " is set";
  } else if (listed || forced_on) {
    m->enabled = true;
    m->why = listed ? "VK_INSTANCE_LAYERS names it" : "VK_LOADER_LAYERS_ENABLE matches it";
  } else if (forced_off) {
    m->enabled = false;
    m->why = "VK_LOADER_LAYERS_DISABLE matches it";
  } else if (!m->implicit) {
    m->enabled = false;
    m->why = "explicit: VK_INSTANCE_LAYERS does not name it (an app may still enable it)";
  } else if (m->enable_env.empty()) {
    m->enabled = true;
    m->why = "implicit, always on";
  } else {
    m->enabled = env(m->enable_env.c_str()) == m->enable_value && env_set(m->enable_env.c_str());
    m->why = m->enable_env + (m->enabled ? "=" + m->enable_value + " is set" : "=" + m->enable_value + " is not set");
  }
  if (m->enabled && !m->library_found) {
    m->enabled = false;
    m->why += ", but its library " + m->library_path + " is missing";
  }
}

void scan_file(const std::string &path, bool implicit, InstallInfo *out) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string json = text.str();
  if (json_string(json, "name") != kLayerName) return;
  Manifest m;
  m.path = path;
  m.implicit = implicit;
  m.library_path = json_string(json, "library_path");
  m.library_found = library_found(path, m.library_path);
  if (implicit) {
    std::string unused;
    json_env(json, "enable_environment", &m.enable_env, &m.enable_value);
    json_env(json, "disable_environment", &m.disable_env, &unused);
  }
  decide_enabled(&m);
  out->manifests.push_back(m);
}

bool is_json(const std::string &name) { return name.size() >= 5 && name.compare(name.size() - 5, 5, ".json") == 0; }

// A directory of manifests, or (VK_LAYER_PATH allows it) one manifest file.
void scan(const std::string &dir, bool implicit, InstallInfo *out) {
  out->searched.push_back(dir);
  struct stat st{};
  if (is_json(dir) && stat(dir.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return scan_file(dir, implicit, out);
  DIR *d = opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> names;
  while (dirent *e = readdir(d))
    if (is_json(e->d_name)) names.push_back(e->d_name);
  closedir(d);
  for (const std::string &name : names) scan_file(dir + "/" + name, implicit, out);
}

} // namespace

bool InstallInfo::enabled() const {
  for (const Manifest &m : manifests)
    if (m.enabled) return true;
  return false;
}

InstallInfo probe_install() {
  InstallInfo info;
  // Loader 1.3.239 has no VK_IMPLICIT_LAYER_PATH: implicit manifests come from the system path only.
  for (const std::string &dir : system_dirs("implicit_layer.d")) scan(dir, true, &info);
  std::vector<std::string> explicit_dirs = split(env("VK_ADD_LAYER_PATH"), ':');
  std::vector<std::string> base = !env("VK_LAYER_PATH").empty() ? split(env("VK_LAYER_PATH"), ':') : system_dirs("explicit_layer.d");
  explicit_dirs.insert(explicit_dirs.end(), base.begin(), base.end());
  for (const std::string &dir : explicit_dirs) scan(dir, false, &info);
  return info;
}

} // namespace sfw::info
