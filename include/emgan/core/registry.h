#pragma once
/// \file registry.h
/// Build components by name (tiny-cuda-nn style): a registry maps names to
/// factories, throws on an unknown name and lists the known ones.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "emgan/core/config.h"

namespace emgan {

/// A name -> factory table. `Product` is what the factory returns (a module holder,
/// a shared_ptr ...); `Args` are what it is given (usually a Json of options).
template <typename Product, typename... Args>
class Registry {
 public:
  using Factory = std::function<Product(Args...)>;

  /// `kind` names what is registered ("generator", "loss") in error messages.
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  /// Registers `factory` under `name`; a second registration of a name throws.
  void add(const std::string& name, Factory factory, std::string help = "") {
    if (entries_.count(name)) throw ConfigError(kind_ + " '" + name + "' is registered twice");
    entries_[name] = Entry{std::move(factory), std::move(help)};
  }

  /// Builds the product registered as `name`; throws ConfigError listing known names.
  Product create(const std::string& name, Args... args) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      throw ConfigError("unknown " + kind_ + " '" + name + "' (known: " + join(names()) + ")");
    }
    return it->second.factory(std::forward<Args>(args)...);
  }

  bool contains(const std::string& name) const { return entries_.count(name) > 0; }

  /// Known names, sorted.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& kv : entries_) out.push_back(kv.first);
    return out;
  }

  /// One-line help text given at registration.
  std::string help(const std::string& name) const {
    auto it = entries_.find(name);
    return it == entries_.end() ? std::string() : it->second.help;
  }

  const std::string& kind() const { return kind_; }

 private:
  struct Entry {
    Factory factory;
    std::string help;
  };
  std::string kind_;
  std::map<std::string, Entry> entries_;
};

}  // namespace emgan
