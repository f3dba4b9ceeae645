#include "app/command_line.h"

#include "base/closest.h"

#include <fmt/format.h>

#include <cstdlib>
#include <iostream>
#include <string_view>
#include <vector>

namespace sluice::app {

namespace {

CLI::App* find_subcommand(CLI::App* app, const std::string& name) {
  for (auto* sub : app->get_subcommands({}))
    if (sub->get_name() == name)
      return sub;
  return nullptr;
}

// The file's key names the option "--key" of the subcommand its section
// names ([serve]), or of the top level.
const CLI::Option* option_of(CLI::App* app, const CLI::ConfigItem& item) {
  for (auto& p : item.parents) {
    app = find_subcommand(app, p);
    if (!app)
      return nullptr;
  }
  return app->get_option_no_throw("--" + item.name);
}

class env_first_config : public CLI::ConfigTOML {
 public:
  explicit env_first_config(CLI::App* app) : app_(app) {}

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    auto found = CLI::ConfigTOML::from_config(input);
    std::erase_if(found, [&](const CLI::ConfigItem& item) {
      auto* opt = option_of(app_, item);
      if (!opt || opt->get_envname().empty())
        return false;
      const char* v = std::getenv(opt->get_envname().c_str());
      return v != nullptr && *v != '\0';
    });
    return found;
  }

 private:
  CLI::App* app_;
};

// The subcommand the user was in when the error happened ("sluice serve").
std::string where(CLI::App& app) {
  std::string name = app.get_name();
  for (auto* sub = &app;;) {
    auto parsed = sub->get_subcommands();
    if (parsed.empty())
      break;
    sub = parsed.front();
    name += " " + sub->get_name();
  }
  return name;
}

// The first word that is neither a flag nor a top-level flag's value: what
// the user took for a subcommand.
std::string first_word(CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.starts_with("-")) {
      auto* opt = app.get_option_no_throw(std::string(a.substr(0, a.find('='))));
      if (opt && opt->get_type_size() != 0 && a.find('=') == std::string_view::npos)
        ++i; // its value
      continue;
    }
    return std::string(a);
  }
  return {};
}

} // namespace

void env_before_file(CLI::App& app) { app.config_formatter(std::make_shared<env_first_config>(&app)); }

int parse_or_exit(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return -1;
  } catch (const CLI::Success& e) { // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string message = e.what();
    auto word = first_word(app, argc, argv);
    std::vector<std::string> names;
    for (auto* sub : app.get_subcommands({}))
      names.push_back(sub->get_name());
    if (app.get_subcommands().empty() && !word.empty() && find_subcommand(&app, word) == nullptr)
      message = fmt::format("unknown subcommand '{}'{}; the subcommands are {}", word, did_you_mean(word, names),
                            join_names(names));
    else if (app.get_subcommands().empty())
      message = fmt::format("a subcommand is required: {}", join_names(names));
    auto in = where(app);
    std::cerr << in << ": " << message << "\n"
              << "run `" << in << " --help` for what it accepts\n";
    return k_exit_usage;
  }
}

} // namespace sluice::app
