using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Eap;
using Concentrator.Telemetry;

namespace Concentrator.Radius;

/// <summary>
/// EAP passed through to RADIUS (RFC 3579), as strongSwan's eap-radius: the gateway asks EAP-Identity itself when
/// eap_id is %any, or sends the known identity as an EAP-Response/Identity straight away; each EAP response goes to the
/// server in an Access-Request (User-Name = the EAP identity, the last State echoed); an Access-Challenge's EAP-Message
/// goes back to the peer; Access-Accept ends in success with the MSK from MS-MPPE-Recv-Key | MS-MPPE-Send-Key, the
/// Framed-IP-Address and (class_group) the Class values; Access-Reject or no answer ends in failure.
/// </summary>
public sealed class RadiusEapSession : IEapSession
{
    private const byte EapRequest = 1, EapResponse = 2, EapSuccess = 3, EapFailure = 4, EapTypeIdentity = 1;

    private readonly RadiusClient _client;
    private readonly RadiusLogins _logins;
    private readonly string _connection;
    private readonly EapPeer? _peer;
    private readonly ILogger _log;
    private readonly string _sessionId;
    private byte[]? _userName;
    private Identity? _eapIdentity;
    private byte[]? _state;
    private RadiusServer? _server;
    private byte _identifier;
    private bool _awaitingIdentity;
    private bool _done;

    public RadiusEapSession(RadiusClient client, RadiusLogins logins, string connection, EapPeer? peer, ILogger log)
    {
        _client = client;
        _logins = logins;
        _connection = connection;
        _peer = peer;
        _log = log;
        _sessionId = logins.NewSessionId();
    }

    public string Method => "eap-radius";

    public ValueTask<EapResult> StartAsync(Identity ikeIdentity, Identity? eapId, CancellationToken cancellationToken)
    {
        _identifier = (byte)RandomNumberGenerator.GetInt32(256);
        if (eapId is null || eapId.IsAny)
        {
            _awaitingIdentity = true;
            return ValueTask.FromResult(new EapResult(EapResultKind.Continue, [EapRequest, _identifier, 0, 5, EapTypeIdentity]));
        }
        _eapIdentity = eapId;
        _userName = Encoding.UTF8.GetBytes(eapId.Text);
        var response = new byte[5 + _userName.Length];
        response[0] = EapResponse;
        response[1] = _identifier;
        BinaryPrimitives.WriteUInt16BigEndian(response.AsSpan(2), (ushort)response.Length);
        response[4] = EapTypeIdentity;
        _userName.CopyTo(response, 5);
        return new ValueTask<EapResult>(ExchangeAsync(response, cancellationToken));
    }

    /// <summary>The largest EAP Response forwarded: RFC 2865's 4096-octet packet less its header, the other attributes of an
    /// Access-Request (User-Name, State and the NAS attributes at their largest) and 2 octets per 253-octet EAP-Message.</summary>
    public const int MaxEapLength = 3000;

    public ValueTask<EapResult> ProcessAsync(ReadOnlyMemory<byte> eapResponse, CancellationToken cancellationToken)
    {
        var eap = eapResponse.Span;
        if (_done) return ValueTask.FromResult(Fail("EAP message after the conversation ended"));
        if (eap.Length < 5 || eap[0] != EapResponse || BinaryPrimitives.ReadUInt16BigEndian(eap[2..]) != eap.Length)
        {
            return ValueTask.FromResult(Fail("not an EAP Response"));
        }
        // Refused here, not by the socket: a request that cannot be encoded would look like a server that does not answer
        // and move every later request to the next server.
        if (eap.Length > MaxEapLength) return ValueTask.FromResult(Fail($"EAP Response of {eap.Length} octets, above the {MaxEapLength} a RADIUS request carries here"));
        _identifier = eap[1];
        if (_awaitingIdentity)
        {
            if (eap[4] != EapTypeIdentity) return ValueTask.FromResult(Fail("expected EAP-Response/Identity"));
            var name = eap[5..];
            if (name.IsEmpty || name.Length > RadiusAttribute.MaxValueLength) return ValueTask.FromResult(Fail("EAP identity empty or above 253 octets"));
            _awaitingIdentity = false;
            _userName = name.ToArray();
            string text = Encoding.UTF8.GetString(_userName);
            _eapIdentity = Identity.TryParse(text, out var parsed, out _) && parsed is { IsAny: false } ? parsed : null;
        }
        return new ValueTask<EapResult>(ExchangeAsync(eapResponse.ToArray(), cancellationToken));
    }

    private async Task<EapResult> ExchangeAsync(byte[] eap, CancellationToken cancellationToken)
    {
        var request = BuildRequest(eap);
        var response = await _client.SendAsync(request, _server, cancellationToken).ConfigureAwait(false);
        if (response is null) return Fail(_server is null ? "no RADIUS server answered" : $"RADIUS server {_server.Name} stopped answering");
        _server = response.Server;
        var packet = response.Parsed();
        var message = RadiusAttribute.ReassembleEap(packet);
        string user = Encoding.UTF8.GetString(_userName!);
        switch (response.Code)
        {
            case RadiusCode.AccessChallenge:
                if (message is null || message[0] != EapRequest) return Fail($"Access-Challenge from {_server.Name} without an EAP Request");
                _state = packet.TryFind(RadiusAttributeType.State, out var state) ? state.ToArray() : null;
                return new EapResult(EapResultKind.Continue, message);
            case RadiusCode.AccessAccept:
                Log.RadiusAccessResult(_log, _server.Name, user, "Access-Accept");
                _done = true;
                var msk = response.DecryptMsk();
                if (msk is null) Log.RadiusAcceptWithoutKeys(_log, _server.Name, user);
                var framed = RadiusAttribute.FramedAddress(packet);
                var classes = RadiusAttribute.Classes(packet);
                TimeSpan? interim = packet.TryFind(RadiusAttributeType.AcctInterimInterval, out var ii) && ii.Length == 4
                    ? TimeSpan.FromSeconds(Math.Max(60, BinaryPrimitives.ReadUInt32BigEndian(ii)))
                    : null;
                // Only accounting takes logins back out (Start, then Stop): without it they would pile up.
                if (_peer is not null && _client.Options.Accounting)
                {
                    _logins.Add(new RadiusLogin(_sessionId, _userName!, _connection, _peer, framed, classes, interim));
                }
                return new EapResult(EapResultKind.Success, message is { } m && m[0] == EapSuccess ? m : [EapSuccess, _identifier, 0, 4])
                {
                    Msk = msk,
                    EapIdentity = _eapIdentity,
                    FramedAddress = framed,
                    Groups = _client.Options.ClassGroup ? classes.Select(c => Encoding.UTF8.GetString(c)).ToList() : [],
                };
            default:
                Log.RadiusAccessResult(_log, _server.Name, user, response.Code.ToString());
                _done = true;
                return new EapResult(EapResultKind.Failure, message is { } f && f[0] == EapFailure ? f : [EapFailure, _identifier, 0, 4])
                {
                    EapIdentity = _eapIdentity,
                    FailureDetail = $"RADIUS server {_server.Name} rejected the login",
                };
        }
    }

    private EapResult Fail(string why)
    {
        _done = true;
        return new EapResult(EapResultKind.Failure, [EapFailure, _identifier, 0, 4]) { FailureDetail = why, EapIdentity = _eapIdentity };
    }

    /// <summary>The Access-Request strongSwan's eap_radius_build_attributes sends, with the EAP message and the State.</summary>
    private RadiusRequest BuildRequest(byte[] eap)
    {
        var request = new RadiusRequest(RadiusCode.AccessRequest) { Eap = eap };
        request.Add(RadiusAttributeType.UserName, _userName!.Length > RadiusAttribute.MaxValueLength ? _userName[..RadiusAttribute.MaxValueLength] : _userName);
        AddNasAttributes(request, _client.Options, _connection, _peer, _sessionId);
        if (_state is { } state) request.Add(RadiusAttributeType.State, state);
        return request;
    }

    /// <summary>NAS-Port-Type Virtual, Service-Type Framed, NAS-Port-Id (the connection), NAS-IP(v6)-Address,
    /// Called/Calling-Station-Id and Acct-Session-Id, as strongSwan's eap-radius.</summary>
    internal static void AddNasAttributes(RadiusRequest request, RadiusClientOptions options, string connection, EapPeer? peer, string sessionId)
    {
        request.Add(RadiusAttributeType.NasPortType, RadiusValues.NasPortTypeVirtual);
        request.Add(RadiusAttributeType.ServiceType, RadiusValues.ServiceTypeFramed);
        if (connection.Length > 0) request.Add(RadiusAttributeType.NasPortId, connection);
        if (peer is not null)
        {
            var local = peer.Local.Address.IsIPv4MappedToIPv6 ? peer.Local.Address.MapToIPv4() : peer.Local.Address;
            request.Add(local.AddressFamily == AddressFamily.InterNetwork ? RadiusAttributeType.NasIpAddress : RadiusAttributeType.NasIpv6Address,
                local.GetAddressBytes());
            request.Add(RadiusAttributeType.CalledStationId, StationId(peer.Local, options.StationIdWithPort));
            request.Add(RadiusAttributeType.CallingStationId, StationId(peer.Remote, options.StationIdWithPort));
        }
        request.Add(RadiusAttributeType.AcctSessionId, sessionId);
    }

    /// <summary>strongSwan's %#H: "address[port]", or the address alone without station_id_with_port.</summary>
    internal static string StationId(IPEndPoint endpoint, bool withPort)
    {
        var address = endpoint.Address.IsIPv4MappedToIPv6 ? endpoint.Address.MapToIPv4() : endpoint.Address;
        return withPort ? $"{address}[{endpoint.Port}]" : address.ToString();
    }

    public void Dispose()
    {
        if (_state is not null) CryptographicOperations.ZeroMemory(_state);
        _state = null;
    }
}

/// <summary>Serves remote rounds of auth eap-radius (and, through the EAP factory, generic eap when RADIUS is configured).</summary>
public sealed class RadiusEapSessionFactory : IEapSessionFactory
{
    private readonly RadiusClient _client;
    private readonly RadiusLogins _logins;
    private readonly ILogger _log;

    public RadiusEapSessionFactory(RadiusClient client, RadiusLogins logins, ILogger log)
    {
        _client = client;
        _logins = logins;
        _log = log;
    }

    public IEapSession? Create(ConnectionConfig connection, AuthConfig remote) => new RadiusEapSession(_client, _logins, connection.Name, null, _log);

    public IEapSession? Create(ConnectionConfig connection, AuthConfig remote, EapPeer peer) =>
        new RadiusEapSession(_client, _logins, connection.Name, peer, _log);
}
