package tomlconfig

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// typeError matches go-toml's messages for a value of the wrong type: into
// a struct field, or into an element of a map or array.
var typeError = regexp.MustCompile(`^cannot decode TOML (.+?) into (?:struct field (.*)\.(\w+) of type (.*)|(.*))$`)

// typeMessage says what a go-toml decoding error means for the document
// decoded into a value of type root: for a value of the wrong type, its key,
// what it is and what it should be; for a syntax error, what go-toml says.
func typeMessage(e *toml.DecodeError, root reflect.Type) string {
	message := strings.TrimPrefix(e.Error(), "toml: ")
	m := typeError.FindStringSubmatch(message)
	if m == nil {
		return "invalid TOML: " + message
	}
	found, structType, field, target := m[1], m[2], m[3], m[4]
	if target == "" {
		target = m[5]
	}
	key := append([]string(nil), e.Key()...)
	part := ""
	if structType != "" {
		if sf, ok := structField(root, structType, field); ok {
			tag := TagName(sf, "toml")
			if len(key) == 0 || key[len(key)-1] != tag {
				// go-toml names the table an inline table is in, not
				// the key inside it.
				key = append(key, tag)
			}
			part = ElementOf(sf.Type, target)
		}
	}
	where := strings.Join(key, ".")
	if where == "" {
		where = "a value"
	}
	if part != "" {
		return fmt.Sprintf("%s: %s is %s, want %s", where, part, Article(found), DescribeType(target, "table"))
	}
	return fmt.Sprintf("%s is %s, want %s", where, Article(found), DescribeType(target, "table"))
}

// ElementOf says what part of a value of type declared a decoder
// complaining about a value of type target (as reflect.Type.String()
// writes it) was decoding: "an item" of an array, "a value" of a table or
// map; "" if the value itself.
func ElementOf(declared reflect.Type, target string) string {
	switch {
	case declared.String() == target:
		return ""
	case declared.Kind() == reflect.Slice && declared.Elem().String() == target:
		return "an item"
	case declared.Kind() == reflect.Map && declared.Elem().String() == target:
		return "a value"
	}
	return ""
}

// structField finds the field named field of the struct type whose
// String() is structType, among the types reachable from root.
func structField(root reflect.Type, structType, field string) (reflect.StructField, bool) {
	var found reflect.StructField
	ok := false
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		if t == nil || ok || seen[t] {
			return
		}
		seen[t] = true
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			walk(t.Elem())
		case reflect.Struct:
			if t.String() == structType {
				if found, ok = t.FieldByName(field); ok {
					return
				}
			}
			for i := range t.NumField() {
				walk(t.Field(i).Type)
			}
		}
	}
	walk(root)
	return found, ok
}

// TagName returns the name a struct field has in a document of format
// ("toml", "json").
func TagName(f reflect.StructField, format string) string {
	name, _, _ := strings.Cut(f.Tag.Get(format), ",")
	if name == "" {
		return f.Name
	}
	return name
}

// DescribeType says in a document's words what a Go type (as
// reflect.Type.String() writes it) holds; table is what the format calls a
// struct or a map ("table" in TOML, "object" in JSON).
func DescribeType(t, table string) string {
	t = strings.TrimPrefix(t, "*")
	switch {
	case t == "string":
		return "a string"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "interface {}" || t == "any":
		return "a value"
	case strings.HasPrefix(t, "[]"):
		elem := DescribeType(t[2:], table)
		switch elem {
		case "a value":
			return "an array"
		case "true or false":
			return "an array of true or false"
		}
		_, noun, _ := strings.Cut(elem, " ")
		return "an array of " + noun + "s"
	}
	// A struct or a map.
	return Article(table)
}

// Article prefixes a noun with "a" or "an".
func Article(noun string) string {
	if noun != "" && strings.ContainsRune("aeiou", rune(noun[0])) {
		return "an " + noun
	}
	return "a " + noun
}
