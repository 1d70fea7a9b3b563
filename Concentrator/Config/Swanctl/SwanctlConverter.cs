namespace Concentrator.Config.Swanctl;

/// <summary>The converted YAML, or every problem found (then no YAML).</summary>
internal sealed record SwanctlImport(string? Yaml, IReadOnlyList<SettingsProblem> Problems);

/// <summary>
/// swanctl.conf (and strongswan.conf's <c>charon</c> section) to our YAML, walking <see cref="SwanctlKeys"/>: a
/// supported key is written under its swanctl name, any other is a problem at its file and line, all reported at once.
/// Credentials are found as swanctl finds them, in the directories beside swanctl.conf: certificate paths are made
/// absolute against x509/ and x509ca/, every key file in private/, rsa/, ecdsa/ and pkcs8/ becomes a secret (swanctl
/// --load-creds loads them all), every CRL in x509crl/ goes to <c>crls</c>, and a remote pubkey round that names no
/// cacerts or certs trusts every CA in x509ca/ (swanctl trusts every CA it loaded). The result is loaded by
/// <see cref="ConfigLoader"/> before it is returned; a value it refuses is a problem at the swanctl line it came from.
/// </summary>
internal static partial class SwanctlConverter
{
    private static readonly string[] SwanctlSections = ["connections", "secrets", "pools", "authorities"];
    private static readonly string[] KeyDirectories = ["private", "rsa", "ecdsa", "pkcs8"];

    /// <param name="swanctlConf">swanctl.conf; its directory holds x509/, x509ca/, private/ ... as for swanctl.</param>
    /// <param name="strongswanConf">strongswan.conf, or null.</param>
    /// <param name="loadAs">The name the result is loaded under (the output file), shown in the loader's errors.</param>
    public static SwanctlImport Convert(string swanctlConf, string? strongswanConf, string loadAs)
    {
        var (swanctl, problems) = SettingsReader.ReadFile(swanctlConf);
        if (problems.Count > 0 && swanctl.Sections.Count == 0 && swanctl.Values.Count == 0) return new SwanctlImport(null, problems);
        var conversion = new Conversion(Path.GetDirectoryName(swanctl.Position.File) ?? "/", [.. problems]);
        foreach (var value in swanctl.Values.Values)
        {
            conversion.Problem(value.Position, $"'{value.Key}' is not a swanctl.conf setting (the file holds the sections {string.Join(", ", SwanctlSections)})");
        }
        foreach (var (name, section) in swanctl.Sections)
        {
            if (!SwanctlSections.Contains(name))
            {
                conversion.Problem(section.Position, $"'{name}' is not a swanctl.conf section (expected {string.Join(", ", SwanctlSections)})");
                continue;
            }
            conversion.Section(section, "", conversion.Root, "");
        }
        conversion.AddCredentialDirectories();

        if (strongswanConf is not null)
        {
            var (settings, settingsProblems) = SettingsReader.ReadFile(strongswanConf);
            conversion.Problems.AddRange(settingsProblems);
            foreach (var value in settings.Values.Values)
            {
                conversion.Problem(value.Position, $"'{value.Key}' is not converted (only the charon section of strongswan.conf is)");
            }
            foreach (var (name, section) in settings.Sections)
            {
                if (name != "charon")
                {
                    conversion.Problem(section.Position, $"'{name}' is not converted (only the charon section of strongswan.conf is)");
                    continue;
                }
                conversion.Section(section, "", conversion.Root, "");
            }
        }

        if (conversion.Problems.Count > 0) return new SwanctlImport(null, Sorted(conversion.Problems));
        var yaml = YamlWriter.Write(conversion.Root, $"converted by 'Concentrator import-swanctl' from {swanctl.Position.File}" +
                                                     (strongswanConf is null ? "" : $" and {strongswanConf}"));
        try
        {
            ConcentratorConfig.Parse(yaml, loadAs);
        }
        catch (ConfigException e)
        {
            return new SwanctlImport(null, [conversion.Refused(e)]);
        }
        return new SwanctlImport(yaml, []);
    }

    private static List<SettingsProblem> Sorted(List<SettingsProblem> problems) =>
        problems.Distinct().OrderBy(p => p.Position.File, StringComparer.Ordinal).ThenBy(p => p.Position.Line).ToList();

    /// <summary>What a row's refusal says: not yet, or never, and why.</summary>
    internal static string Refusal(string written, SwanctlKey row) => row.Support switch
    {
        KeySupport.NotYet => $"'{written}' ({row.Path}) is not supported yet{(row.Note.Length > 0 ? ": " + row.Note : "")}",
        _ => $"'{written}' ({row.Path}) will not be supported{(row.Note.Length > 0 ? ": " + row.Note : "")}",
    };
}
