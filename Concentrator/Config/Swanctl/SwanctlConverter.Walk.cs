using System.Text.RegularExpressions;

namespace Concentrator.Config.Swanctl;

/// <summary>The walk of a settings tree along <see cref="SwanctlKeys"/>, and swanctl's credential directories.</summary>
internal static partial class SwanctlConverter
{
    /// <summary>A YAML mapping being built: values are strings, lists of strings, or mappings.</summary>
    internal sealed class YamlMap : OrderedDictionary<string, object>
    {
        public YamlMap() : base(StringComparer.Ordinal)
        {
        }

        public YamlMap Map(string key) => TryGetValue(key, out var v) && v is YamlMap m ? m : (YamlMap)(this[key] = new YamlMap());
    }

    private sealed partial class Conversion(string swanctlDir, List<SettingsProblem> problems)
    {
        public List<SettingsProblem> Problems { get; } = problems;
        public YamlMap Root { get; } = new();

        /// <summary>Where each YAML key path came from, for the loader's refusals.</summary>
        private readonly Dictionary<string, SettingsPosition> _origins = new(StringComparer.Ordinal);

        public void Problem(SettingsPosition at, string problem) => Problems.Add(new SettingsProblem(at, problem));

        /// <summary>One section: found in the table under <paramref name="parentRow"/>, its values and subsections walked.</summary>
        public void Section(SettingsSection section, string parentRow, YamlMap parent, string parentPath)
        {
            var row = SwanctlKeys.Find(parentRow, section.Name, section: true);
            var written = Join(parentPath, section.Name);
            if (row is null)
            {
                Problem(section.Position, $"unknown section '{written}'");
                return;
            }
            if (row.Shape != KeyShape.Section)
            {
                Problem(section.Position, $"'{written}' is a value ({row.Path}), not a section");
                return;
            }
            if (row.Support != KeySupport.Supported)
            {
                Problem(section.Position, Refusal(written, row));
                return;
            }
            // One authentication round each way: local or local-<suffix> becomes local (the loader's only round).
            var name = row.Path.EndsWith(".local<suffix>", StringComparison.Ordinal) ? "local"
                : row.Path.EndsWith(".remote<suffix>", StringComparison.Ordinal) ? "remote" : section.Name;
            var path = Join(parentPath, name);
            if (parent.ContainsKey(name))
            {
                Problem(section.Position, $"'{written}': a second {name} authentication round is not supported yet (multiple authentication rounds, RFC 4739)");
                return;
            }
            var map = parent.Map(name);
            _origins[path] = section.Position;
            foreach (var value in section.Values.Values)
            {
                Value(value, row.Path, map, path, written);
            }
            foreach (var sub in section.Sections.Values)
            {
                Section(sub, row.Path, map, path);
            }
            // An empty top-level section (charon {} of a file whose keys are all unset) adds nothing to the YAML.
            if (map.Count == 0 && row.Path.Count(c => c == '.') == 0)
            {
                parent.Remove(name);
            }
        }

        private void Value(SettingsValue value, string parentRow, YamlMap map, string path, string writtenParent)
        {
            var row = SwanctlKeys.Find(parentRow, value.Key, section: false);
            var written = Join(writtenParent, value.Key);
            if (row is null)
            {
                Problem(value.Position, $"unknown key '{written}'");
                return;
            }
            if (row.Shape == KeyShape.Section)
            {
                Problem(value.Position, $"'{written}' is a section ({row.Path} {{ ... }}), not a value");
                return;
            }
            if (row.Support != KeySupport.Supported)
            {
                Problem(value.Position, Refusal(written, row));
                return;
            }
            if (value.Value is null) return; // "key =" unsets the key in strongSwan: the default applies.
            var key = Join(path, value.Key);
            _origins[key] = value.Position;
            map[value.Key] = row.Shape switch
            {
                KeyShape.List => Items(value.Value),
                KeyShape.X509 => Items(value.Value).Select(f => Beside("x509", f)).ToList(),
                KeyShape.X509Ca => Items(value.Value).Select(f => Beside("x509ca", f)).ToList(),
                KeyShape.CaFile => Beside("x509ca", value.Value.Trim()),
                KeyShape.KeyFile => Beside(KeyDirectoryOf(parentRow), value.Value.Trim()),
                _ => value.Value,
            };
        }

        /// <summary>secrets.rsa&lt;suffix&gt; -> rsa.</summary>
        private static string KeyDirectoryOf(string secretRow) => SwanctlKeys.LastSegment(secretRow).Replace("<suffix>", "", StringComparison.Ordinal);

        /// <summary>swanctl's comma-separated list, items trimmed, empty items dropped (strongSwan's tokenizer skips them).</summary>
        private static List<string> Items(string text) =>
            text.Split(',').Select(i => i.Trim()).Where(i => i.Length > 0).ToList();

        /// <summary>A credential path as swanctl resolves it: absolute as written, else in its directory beside swanctl.conf.</summary>
        private string Beside(string directory, string file)
        {
            try
            {
                return Path.IsPathRooted(file) ? file : Path.GetFullPath(Path.Combine(swanctlDir, directory, file));
            }
            catch (ArgumentException)
            {
                return file; // the loader names it as not a valid path
            }
        }

        private static string Join(string parent, string name) => parent.Length == 0 ? name : parent + "." + name;

        /// <summary>The loader's refusal at the swanctl line its key came from (the longest recorded prefix of its key path).</summary>
        public SettingsProblem Refused(ConfigException e)
        {
            var keyPath = IndexSuffix().Replace(e.KeyPath, "");
            var problem = LineSuffix().Replace(e.Problem, "");
            for (var path = keyPath; path.Length > 0; path = SwanctlKeys.Parent(path))
            {
                if (_origins.TryGetValue(path, out var at)) return new SettingsProblem(at, $"{e.KeyPath}: {problem}");
            }
            return new SettingsProblem(new SettingsPosition(e.File, 0), $"{e.KeyPath}: {problem}");
        }

        [GeneratedRegex(@"\[\d+\]$")]
        private static partial Regex IndexSuffix();

        [GeneratedRegex(@" \(line \d+\)$")]
        private static partial Regex LineSuffix();

        /// <summary>What swanctl --load-creds takes from the directories beside swanctl.conf without swanctl.conf naming it.</summary>
        public void AddCredentialDirectories()
        {
            var secrets = Root.TryGetValue("secrets", out var s) ? (YamlMap)s : null;
            var named = secrets?.Values.OfType<YamlMap>().Select(m => m.TryGetValue("file", out var f) ? f as string : null)
                .Where(f => f is not null).ToHashSet(StringComparer.Ordinal) ?? [];
            foreach (var directory in KeyDirectories)
            {
                foreach (var file in FilesIn(directory).Where(f => !named.Contains(f)))
                {
                    secrets ??= Root.Map("secrets");
                    // A secret's name holds no '.' (a key path separator): private/gw.key is private-gw_key.
                    var stem = $"{directory}-{Path.GetFileName(file).Replace('.', '_')}";
                    var name = stem;
                    for (int i = 2; secrets.ContainsKey(name); i++) name = $"{stem}-{i}";
                    secrets.Map(name)["file"] = file;
                    _origins[$"secrets.{name}"] = new SettingsPosition(file, 0);
                }
            }
            var crls = FilesIn("x509crl");
            if (crls.Count > 0)
            {
                Root["crls"] = crls;
                _origins["crls"] = new SettingsPosition(Path.Combine(swanctlDir, "x509crl"), 0);
            }
            var cas = FilesIn("x509ca");
            if (cas.Count == 0 || !Root.TryGetValue("connections", out var c)) return;
            foreach (var connection in ((YamlMap)c).Values.OfType<YamlMap>())
            {
                if (connection.TryGetValue("remote", out var r) && r is YamlMap remote && remote.TryGetValue("auth", out var auth) &&
                    auth is "pubkey" && !remote.ContainsKey("cacerts") && !remote.ContainsKey("certs"))
                {
                    remote["cacerts"] = cas;
                }
            }
        }

        /// <summary>Regular files of a credential directory, in name order, hidden files skipped; none when it is absent.</summary>
        private List<string> FilesIn(string directory)
        {
            var full = Path.Combine(swanctlDir, directory);
            try
            {
                return Directory.Exists(full)
                    ? Directory.EnumerateFiles(full).Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal).ToList()
                    : [];
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Problem(new SettingsPosition(full, 0), $"cannot list: {e.Message}");
                return [];
            }
        }
    }
}
