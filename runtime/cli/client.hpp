#pragma once

#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
} // namespace CLI

namespace augur {

/// The command-line client of augur's HTTP API, in the `augur` executable:
/// `task deploy|list|show|delete`, `invoke`, `invocation show|list`,
/// `profile`, `channels`, `instances`. Each takes `--url` and `--token`
/// (or `AUGUR_URL`, `AUGUR_TOKEN`) and `--json`; prints tables for people
/// and JSON for scripts. Exit status: 0 success; 1 augur answered that it
/// failed (an invocation that failed, a refused request); 2 a usage error
/// or augur could not be reached.
class client_commands {
public:
  client_commands();
  ~client_commands();

  /// Adds the client's subcommands to `app`.
  void attach(CLI::App& app);

  /// Runs the subcommand that was parsed; nullopt when none of the
  /// client's was.
  std::optional<int> run(std::ostream& out, std::ostream& err);

  struct options;

private:
  std::unique_ptr<options> opts_;
};

/// Columns aligned for people: `rows` under `header`, two spaces apart.
std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows);

} // namespace augur
