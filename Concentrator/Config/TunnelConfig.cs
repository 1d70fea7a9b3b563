namespace Concentrator.Config;

public sealed class TunnelConfig
{
    /// <summary>Linux interface names are at most 15 characters (IFNAMSIZ - 1).</summary>
    public const int MaxDeviceNameLength = 15;
    public const int MinMtu = 576;
    public const int MaxMtu = 65535;

    public string Device { get; init; } = "ipsec0";
    public int Mtu { get; init; } = 1400;
}
