using System.Text;
using Concentrator.Ipsec;

namespace Concentrator.Telemetry;

/// <summary>
/// Metric label values: snake_case names of closed enums, computed once. Every label value the
/// product exports comes from here or from configuration, so label cardinality is bounded by code
/// and config; an SPI, a peer address or an identity never becomes a label.
/// </summary>
public static partial class LabelValues
{
    public const string Initiator = "initiator";
    public const string Responder = "responder";

    /// <summary>Label of Child SAs whose connection/child is not in the configuration (programmatic peers).</summary>
    public const string Unconfigured = "_unconfigured";

    public static string Role(bool initiator) => initiator ? Initiator : Responder;

    public static string Snake(string pascal)
    {
        var sb = new StringBuilder(pascal.Length + 4);
        for (int i = 0; i < pascal.Length; i++)
        {
            char c = pascal[i];
            if (char.IsUpper(c))
            {
                if (i > 0) sb.Append('_');
                sb.Append(char.ToLowerInvariant(c));
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }

    public static string[] SnakeNames<TEnum>() where TEnum : struct, Enum =>
        Enum.GetNames<TEnum>().Select(Snake).ToArray();

    /// <summary>How a peer logs in (a remote round's auth: psk, pubkey, an EAP method); anything else is "other" (bounded).</summary>
    public static readonly string[] LoginMethods = ["psk", "pubkey", "eap-mschapv2", "eap-radius", "eap-tls", "eap", "xauth", "other"];

    public static int LoginMethodIndex(string method)
    {
        int i = Array.IndexOf(LoginMethods, method);
        return i < 0 ? LoginMethods.Length - 1 : i;
    }

    /// <summary>IKE exchange types we speak; anything else is "other" (bounded).</summary>
    public static readonly string[] Exchanges = ["ike_sa_init", "ike_auth", "create_child_sa", "informational", "other"];

    public static int ExchangeIndex(ExchangeType exchange) => exchange switch
    {
        ExchangeType.IkeSaInit => 0,
        ExchangeType.IkeAuth => 1,
        ExchangeType.CreateChildSa => 2,
        ExchangeType.Informational => 3,
        _ => 4,
    };

    /// <summary>Exchange type octet of an encoded IKE message (RFC 7296 §3.1, offset 18).</summary>
    public static int ExchangeIndex(ReadOnlySpan<byte> ikeMessage) =>
        ikeMessage.Length > 18 ? ExchangeIndex((ExchangeType)ikeMessage[18]) : 4;

    public static string Exchange(ExchangeType exchange) => Exchanges[ExchangeIndex(exchange)];

    public static string Close(CloseReason reason) => CloseNames[(int)reason];

    private static readonly string[] CloseNames = SnakeNames<CloseReason>();
}
