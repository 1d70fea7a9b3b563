namespace Concentrator.Telemetry;

/// <summary>
/// The IKE major version, the <c>version</c> label ("1", "2") of the IKE SA families an operator splits by protocol
/// (SAs by state, negotiations started/succeeded/failed, setup duration). Two values: the label stays bounded.
/// </summary>
public enum IkeVersion
{
    V1 = 1,
    V2 = 2,
}

public static partial class LabelValues
{
    public static readonly IkeVersion[] IkeVersions = [IkeVersion.V1, IkeVersion.V2];

    /// <summary>The label value of a version; every IKE SA family indexes its children by <c>(int)version - 1</c>.</summary>
    public static string Version(IkeVersion version) => version == IkeVersion.V1 ? "1" : "2";
}
