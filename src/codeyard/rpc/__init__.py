"""XML-RPC and JSON-RPC at ``/rpc``, compatible with Trac's XmlRpcPlugin."""
