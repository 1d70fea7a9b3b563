using Concentrator.Testbed.Interop;

namespace Concentrator.Tests.Interop;

/// <summary>
/// examples/remote-access.yaml for the namespace testbed's gateway: the file as shipped, listening on the gateway's outer
/// address and serving HTTP on loopback, beside the credential files it names (made by <see cref="SwanPki"/> as ca,
/// intermediate and gw).
/// </summary>
internal static class RemoteAccessExample
{
    private const string ShippedListen = "addresses: [\"0.0.0.0\"]";

    /// <summary>The example's YAML, changed only where the testbed needs it.</summary>
    public static string Yaml()
    {
        string shipped = File.ReadAllText(Config.ConfigTestText.SourcePath("examples", "remote-access.yaml"));
        Assert.Contains(ShippedListen, shipped);
        return shipped.Replace(ShippedListen, $"addresses: [{NamespaceTestbed.GatewayOuter}]", StringComparison.Ordinal)
            + "\nhttp: { listen: \"127.0.0.1:9400\" }\n";
    }

    /// <summary>Puts the files the example names (ca.pem, intermediate.pem, gw-cert.pem, gw-key.pem) into <paramref name="dir"/>.</summary>
    public static void CopyCredentials(SwanPki pki, string dir)
    {
        Directory.CreateDirectory(dir);
        foreach (var (from, to) in new[] { ("ca.pem", "ca.pem"), ("intermediate.pem", "intermediate.pem"), ("gw.pem", "gw-cert.pem"), ("gw.key", "gw-key.pem") })
        {
            File.Copy(Path.Combine(pki.Dir, from), Path.Combine(dir, to));
        }
    }
}
