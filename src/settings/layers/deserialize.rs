//! The strict deserializer over the merged tree: TOML values keep their types, environment text
//! is typed by the key it lands on, and an unknown key is refused with the closest known one.

use std::collections::BTreeMap;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::forward_to_deserialize_any;

use super::{Error, Node, closest, join};

/// Deserializes the node found at `path`.
pub(crate) struct At {
    pub node: Node,
    pub path: String,
}

macro_rules! dispatch {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Error> {
                match self.node {
                    Node::Table(map) => Table { map, path: self.path }.$method($($arg,)* visitor),
                    Node::Toml(value) => value
                        .$method($($arg,)* visitor)
                        .map_err(|e| <Error as de::Error>::custom(e.message()).at(&self.path, None)),
                    Node::Env { var, value } => Env { var, value, path: self.path }
                        .$method($($arg,)* visitor),
                }
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for At {
    type Error = Error;

    dispatch! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }
}

/// A table: a struct refuses keys it does not declare.
struct Table {
    map: BTreeMap<String, Node>,
    path: String,
}

impl<'de> de::Deserializer<'de> for Table {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let path = self.path.clone();
        visitor
            .visit_map(Entries {
                remaining: self.map.into_iter(),
                pending: None,
                path: self.path,
            })
            .map_err(|e| e.at(&path, None))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if let Some((key, node)) = self.map.iter().find(|(k, _)| !fields.contains(&k.as_str())) {
            let suggestion = closest(key, fields)
                .map(|known| format!(" (did you mean {}?)", join(&self.path, known)))
                .unwrap_or_default();
            let from = node
                .env_var()
                .map(|v| format!(" (from {v})"))
                .unwrap_or_default();
            return Err(Error::keyed(format!(
                "{}: unknown key{suggestion}{from}",
                join(&self.path, key)
            )));
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

struct Entries {
    remaining: std::collections::btree_map::IntoIter<String, Node>,
    pending: Option<(String, Node)>,
    path: String,
}

impl<'de> MapAccess<'de> for Entries {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, node)) = self.remaining.next() else {
            return Ok(None);
        };
        let value = seed.deserialize(key.as_str().into_deserializer())?;
        self.pending = Some((key, node));
        Ok(Some(value))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let (key, node) = self
            .pending
            .take()
            .ok_or_else(|| <Error as de::Error>::custom("a value was asked for before its key"))?;
        let path = join(&self.path, &key);
        let var = node.env_var().map(str::to_owned);
        seed.deserialize(At {
            node,
            path: path.clone(),
        })
        .map_err(|e| e.at(&path, var.as_deref()))
    }
}

/// A value from the environment: text, typed by what the key expects.
struct Env {
    var: String,
    value: String,
    path: String,
}

impl Env {
    fn fail(&self, expected: &str) -> Error {
        Error::keyed(format!(
            "{}: expected {expected}, got {:?} (from {})",
            self.path, self.value, self.var
        ))
    }

    fn parse<T: std::str::FromStr>(&self, expected: &str) -> Result<T, Error> {
        self.value.trim().parse().map_err(|_| self.fail(expected))
    }
}

macro_rules! parse_number {
    ($($method:ident => $visit:ident: $ty:ty, $what:literal;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                let number: $ty = self.parse($what)?;
                visitor.$visit(number)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for Env {
    type Error = Error;

    /// Strings stay strings: nothing is guessed from how a value looks.
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_string(self.value)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value.trim().to_ascii_lowercase().as_str() {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            _ => Err(self.fail("true or false")),
        }
    }

    parse_number! {
        deserialize_i8 => visit_i8: i8, "an integer";
        deserialize_i16 => visit_i16: i16, "an integer";
        deserialize_i32 => visit_i32: i32, "an integer";
        deserialize_i64 => visit_i64: i64, "an integer";
        deserialize_u8 => visit_u8: u8, "a non-negative integer";
        deserialize_u16 => visit_u16: u16, "a non-negative integer";
        deserialize_u32 => visit_u32: u32, "a non-negative integer";
        deserialize_u64 => visit_u64: u64, "a non-negative integer";
        deserialize_f32 => visit_f32: f32, "a number";
        deserialize_f64 => visit_f64: f64, "a number";
    }

    /// An empty variable means "unset", as in compose files that list every key.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.value.is_empty() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    /// Lists are comma-separated; each item is typed like a single value.
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let items: Vec<Env> = self
            .value
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| Env {
                var: self.var.clone(),
                value: item.to_owned(),
                path: self.path.clone(),
            })
            .collect();
        visitor.visit_seq(de::value::SeqDeserializer::new(items.into_iter()))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let path = self.path.clone();
        let var = self.var.clone();
        visitor
            .visit_enum(self.value.into_deserializer())
            .map_err(|e: Error| e.at(&path, Some(&var)))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Error> {
        Err(self.fail("a section (set its keys one by one)"))
    }

    forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct tuple tuple_struct map
        identifier ignored_any
    }
}

impl IntoDeserializer<'_, Error> for Env {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}
