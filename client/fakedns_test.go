package client

// An in-memory DNS server for SRV discovery: dnsConn answers the SRV query
// the Go resolver writes to it from srvRecords.

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"time"
)

// srvRecord is one SRV answer of the fake DNS server.
type srvRecord struct {
	ssl                bool
	prio, weight, port uint16
	target             string // dotted; see encodeName for how it goes on the wire
}

// parseSRVRecords turns fuzz bytes into records: per record a flags byte
// (bit 0: the ssl service), priority, weight and port (2 bytes each), a
// target length byte and the target.
func parseSRVRecords(data []byte) []srvRecord {
	var out []srvRecord
	for len(data) >= 8 && len(out) < 20 {
		r := srvRecord{ssl: data[0]&1 != 0,
			prio: binary.BigEndian.Uint16(data[1:]), weight: binary.BigEndian.Uint16(data[3:]), port: binary.BigEndian.Uint16(data[5:])}
		n := min(int(data[7]), len(data)-8)
		r.target = string(data[8 : 8+n])
		data = data[8+n:]
		out = append(out, r)
	}
	return out
}

// dnsConn is a net.Conn (not a PacketConn, so the Go resolver frames its
// query as over TCP) that answers the query written to it from records.
type dnsConn struct {
	records []srvRecord
	rcode   byte
	in, out bytes.Buffer
}

func (c *dnsConn) Write(b []byte) (int, error) {
	c.in.Write(b)
	if c.in.Len() >= 2 {
		n := int(binary.BigEndian.Uint16(c.in.Bytes()))
		if c.in.Len() >= 2+n && c.out.Len() == 0 {
			ans := c.answer(c.in.Bytes()[2 : 2+n])
			var l [2]byte
			binary.BigEndian.PutUint16(l[:], uint16(len(ans)))
			c.out.Write(l[:])
			c.out.Write(ans)
		}
	}
	return len(b), nil
}

func (c *dnsConn) Read(b []byte) (int, error) {
	if c.out.Len() == 0 {
		return 0, io.EOF
	}
	return c.out.Read(b)
}

func (c *dnsConn) Close() error { return nil }

func (c *dnsConn) LocalAddr() net.Addr { return &net.TCPAddr{} }

func (c *dnsConn) RemoteAddr() net.Addr { return &net.TCPAddr{} }

func (c *dnsConn) SetDeadline(time.Time) error { return nil }

func (c *dnsConn) SetReadDeadline(time.Time) error { return nil }

func (c *dnsConn) SetWriteDeadline(time.Time) error { return nil }

// answer echoes the query's id and question and adds the records of the
// service asked for.
func (c *dnsConn) answer(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	// The question: labels up to the root, then type and class.
	i := 12
	var labels []string
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	qEnd := i + 5
	if qEnd > len(q) {
		return nil
	}
	ssl := len(labels) > 0 && strings.HasPrefix(labels[0], "_etcd-client-ssl")
	var ans bytes.Buffer
	count := 0
	for _, r := range c.records {
		if r.ssl != ssl || c.rcode != 0 {
			continue
		}
		var rdata bytes.Buffer
		binary.Write(&rdata, binary.BigEndian, [3]uint16{r.prio, r.weight, r.port})
		rdata.Write(encodeName(r.target))
		ans.Write([]byte{0xc0, 12, 0, 33, 0, 1, 0, 0, 0, 60})
		binary.Write(&ans, binary.BigEndian, uint16(rdata.Len()))
		ans.Write(rdata.Bytes())
		count++
	}
	var msg bytes.Buffer
	msg.Write(q[0:2])                                    // id
	msg.Write([]byte{0x84 | q[2]&1, 0x80 | c.rcode&0xf}) // QR, AA, RD as asked; RA, rcode
	binary.Write(&msg, binary.BigEndian, [4]uint16{1, uint16(count), 0, 0})
	msg.Write(q[12:qEnd])
	msg.Write(ans.Bytes())
	return msg.Bytes()
}

// encodeName writes a dotted name as DNS labels (cutting labels over 63
// bytes and the name at 255 bytes so that the message stays well formed).
func encodeName(name string) []byte {
	var b []byte
	name = strings.TrimSuffix(name, ".")
	if name != "" {
		for _, l := range strings.Split(name, ".") {
			if len(l) > 63 {
				l = l[:63]
			}
			if len(b)+len(l)+2 > 255 {
				break
			}
			b = append(b, byte(len(l)))
			b = append(b, l...)
		}
	}
	return append(b, 0)
}

// wireName is the name a resolver reads from encodeName(name).
func wireName(name string) string {
	b := encodeName(name)
	var labels []string
	for len(b) > 0 && b[0] != 0 {
		labels = append(labels, string(b[1:1+int(b[0])]))
		b = b[1+int(b[0]):]
	}
	return strings.Join(labels, ".")
}
