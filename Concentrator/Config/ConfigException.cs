namespace Concentrator.Config;

/// <summary>Config error that names the file, the key path and what is wrong.</summary>
/// <remarks>KeyPath uses dots and indexes ("connections.site-a.children.lan.esp_proposals[1]");
/// Problem names the bad value and, where known, the line ("(line 12)").</remarks>
public sealed class ConfigException(string file, string keyPath, string problem)
    : Exception($"{file}: {keyPath}: {problem}")
{
    public string File { get; } = file;
    public string KeyPath { get; } = keyPath;
    public string Problem { get; } = problem;
}
