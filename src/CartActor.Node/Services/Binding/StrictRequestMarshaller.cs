using Grpc.Core;

namespace CartActor.Node.Services.Binding;

/// <summary>
/// Wraps a request marshaller so that a request that does not parse is refused with INVALID_ARGUMENT naming
/// the request type ("ApplyRequest could not be parsed: ..."). grpc-dotnet deserializes the request before any
/// interceptor runs and turns any exception other than <see cref="RpcException"/> into UNKNOWN "Exception was
/// thrown by handler.", a status the contract does not allow and that says nothing about what was wrong.
/// Google.Protobuf already rejects every malformed class we care about (truncated data, bad varints, invalid
/// UTF-8 in any string including Any.type_url, nesting past its recursion limit of 100) with an
/// InvalidProtocolBufferException whose fixed message never echoes the payload.
/// </summary>
internal static class StrictRequestMarshaller
{
    public static Marshaller<T> Wrap<T>(Marshaller<T> inner)
    {
        var deserialize = inner.ContextualDeserializer;
        var prefix = typeof(T).Name + " could not be parsed: ";
        return new Marshaller<T>(inner.ContextualSerializer, context =>
        {
            try
            {
                return deserialize(context);
            }
            catch (RpcException)
            {
                throw;
            }
            catch (Exception ex)
            {
                throw Refused(prefix, ex);
            }
        });
    }

    public static Method<TRequest, TResponse> Wrap<TRequest, TResponse>(Method<TRequest, TResponse> method) =>
        new(method.Type, method.ServiceName, method.Name, Wrap(method.RequestMarshaller), method.ResponseMarshaller);

    private static RpcException Refused(string prefix, Exception ex) => new(Refusal(prefix, ex));

    /// <summary>The status a request that does not parse is refused with (the minimal endpoint uses it too).</summary>
    public static Status Refusal(string prefix, Exception ex) =>
        // The exception's message only: protobuf's are fixed texts; a stack trace never leaves the node.
        new(StatusCode.InvalidArgument, prefix + Bounded(ex.Message));

    private static string Bounded(string message) => message.Length <= 256 ? message : message[..256] + "...";
}
