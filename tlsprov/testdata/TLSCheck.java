// TLSCheck proves that tlsprov's Java artifacts work in a real JVM, in one
// process: for each KEYSTORE it starts a TLS server on loopback that presents
// the keystore's key entry, then connects a client that trusts only TRUSTSTORE
// and verifies the server's name the way HTTPS does (endpoint identification).
// The handshake must succeed for GOODHOST and fail for BADHOST.
//
// Run with Java's single-file source launcher (no build tool needed):
//
//   java TLSCheck.java TRUSTSTORE PASSWORD GOODHOST BADHOST KEYSTORE...
//
// KEYSTOREs ending in .p12 are opened as PKCS12, others as JKS. Prints one OK
// or FAIL line per check and exits 0 only when every check passed.
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

public class TLSCheck {
    public static void main(String[] args) throws Exception {
        if (args.length < 5) {
            System.err.println("usage: java TLSCheck.java TRUSTSTORE PASSWORD GOODHOST BADHOST KEYSTORE...");
            System.exit(2);
        }
        char[] pw = args[1].toCharArray();
        String good = args[2], bad = args[3];

        KeyStore ts = load("JKS", args[0], pw);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ts); // trust only the truststore, not the JDK's cacerts
        SSLContext client = SSLContext.getInstance("TLS");
        client.init(null, tmf.getTrustManagers(), null);

        int failures = 0;
        for (int i = 4; i < args.length; i++) {
            String path = args[i];
            KeyStore ks = load(path.endsWith(".p12") ? "PKCS12" : "JKS", path, pw);
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, pw);
            SSLContext server = SSLContext.getInstance("TLS");
            server.init(kmf.getKeyManagers(), null, null);
            try (SSLServerSocket ss = (SSLServerSocket) server.getServerSocketFactory()
                    .createServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
                Thread t = new Thread(() -> serve(ss));
                t.setDaemon(true);
                t.start();
                int port = ss.getLocalPort();
                try {
                    String reply = talk(client, port, good);
                    if ("pong hello".equals(reply)) {
                        System.out.println("OK " + path + ": handshake with " + good + ", server said: " + reply);
                    } else {
                        System.out.println("FAIL " + path + ": unexpected reply " + reply);
                        failures++;
                    }
                } catch (Exception e) {
                    System.out.println("FAIL " + path + ": handshake with " + good + ": " + e);
                    failures++;
                }
                try {
                    talk(client, port, bad);
                    System.out.println("FAIL " + path + ": client accepted the wrong host name " + bad);
                    failures++;
                } catch (SSLException e) {
                    System.out.println("OK " + path + ": rejected " + bad + ": " + e.getMessage());
                }
            }
        }
        System.exit(failures == 0 ? 0 : 1);
    }

    static KeyStore load(String type, String path, char[] pw) throws Exception {
        KeyStore ks = KeyStore.getInstance(type);
        try (InputStream in = new FileInputStream(path)) {
            ks.load(in, pw);
        }
        return ks;
    }

    // serve answers "pong <line>" on each connection until the socket closes.
    static void serve(SSLServerSocket ss) {
        while (true) {
            try (Socket s = ss.accept()) {
                s.setSoTimeout(60000);
                BufferedReader r = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                String line = r.readLine();
                OutputStream out = s.getOutputStream();
                out.write(("pong " + line + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
            } catch (SocketException e) {
                if (ss.isClosed()) {
                    return;
                }
            } catch (Exception e) {
                // a client that rejected the handshake; keep serving
            }
        }
    }

    // talk connects to the loopback port, naming the server host for SNI and
    // for hostname verification, and exchanges one line.
    static String talk(SSLContext ctx, int port, String host) throws Exception {
        Socket raw = new Socket(InetAddress.getLoopbackAddress(), port);
        raw.setSoTimeout(60000);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(raw, host, port, true)) {
            SSLParameters p = s.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS");
            s.setSSLParameters(p);
            s.startHandshake();
            OutputStream out = s.getOutputStream();
            out.write("hello\n".getBytes(StandardCharsets.UTF_8));
            out.flush();
            return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
        }
    }
}
